// Manifest parsing and validation: every error names the file and the JSON pointer.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/json.h"
#include "host_process.h"
#include "plugin/manifest.h"
#include "plugin_fixture.h"

using namespace lakehost;
using lakehost::test::temp_dir;
using lakehost::test::write_file;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_manifest(text, "/etc/lakehost/m.json");
  } catch (const ManifestError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Manifest, ParsesAllFields) {
  auto m = parse_manifest(R"({"id": "e1", "kind": "embed_provider", "library": "embed-hash.so",
      "enabled": false, "default": true, "sha256": ")" +
                              std::string(64, 'a') + R"(",
      "config": {"b": 1, "a": [1, 2]}})",
                          "m.json");
  EXPECT_EQ(m.id, "e1");
  EXPECT_EQ(m.kind, LH_KIND_EMBED_PROVIDER);
  EXPECT_EQ(m.library, "embed-hash.so");
  EXPECT_FALSE(m.enabled);
  EXPECT_TRUE(m.is_default);
  EXPECT_EQ(*m.sha256, std::string(64, 'a'));
  EXPECT_EQ(m.config_json, R"({"a":[1,2],"b":1})");  // canonical: keys sorted
}

TEST(Manifest, DefaultsWhenOptionalFieldsAreAbsent) {
  auto m = parse_manifest(R"({"id": "s", "kind": "storage_backend", "library": "x.so"})", "m");
  EXPECT_TRUE(m.enabled);
  EXPECT_FALSE(m.is_default);
  EXPECT_FALSE(m.sha256);
  EXPECT_EQ(m.config_json, "{}");
}

TEST(Manifest, MalformedJsonNamesFileAndOffset) {
  auto e = error_of(R"({"id": "x",)");
  EXPECT_NE(e.find("/etc/lakehost/m.json"), std::string::npos) << e;
  EXPECT_NE(e.find("invalid JSON"), std::string::npos) << e;
  EXPECT_NE(e.find("at byte"), std::string::npos) << e;
}

TEST(Manifest, MissingMemberNamesItsPointer) {
  auto e = error_of(R"({"id": "x", "kind": "embed_provider"})");
  EXPECT_NE(e.find("/etc/lakehost/m.json: /library"), std::string::npos) << e;
  EXPECT_NE(e.find("required"), std::string::npos) << e;
}

TEST(Manifest, WrongTypeNamesItsPointer) {
  auto e =
      error_of(R"({"id": "x", "kind": "embed_provider", "library": "a.so", "enabled": "yes"})");
  EXPECT_NE(e.find("/enabled"), std::string::npos) << e;
  EXPECT_NE(e.find("type"), std::string::npos) << e;
}

TEST(Manifest, UnknownKindIsRefused) {
  auto e = error_of(R"({"id": "x", "kind": "reranker", "library": "a.so"})");
  EXPECT_NE(e.find("/kind"), std::string::npos) << e;
  EXPECT_NE(e.find("enum"), std::string::npos) << e;
}

TEST(Manifest, UnknownMemberNamesIt) {
  auto e = error_of(R"({"id": "x", "kind": "embed_provider", "library": "a.so", "confg": {}})");
  EXPECT_NE(e.find("/confg"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown member"), std::string::npos) << e;
}

TEST(Manifest, BadIdAndShaAreRefused) {
  EXPECT_NE(
      error_of(R"({"id": "has space", "kind": "embed_provider", "library": "a.so"})").find("/id"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"id": "x", "kind": "embed_provider", "library": "a.so",
                        "sha256": "ABC"})")
                .find("/sha256"),
            std::string::npos);
}

TEST(Manifest, ConfigMustBeAnObject) {
  auto e = error_of(R"({"id": "x", "kind": "embed_provider", "library": "a.so", "config": [1]})");
  EXPECT_NE(e.find("/config"), std::string::npos) << e;
}

TEST(ManifestDirectory, DuplicateIdNamesBothFiles) {
  auto dir = temp_dir();
  write_file(dir + "/a.json", R"({"id": "same", "kind": "embed_provider", "library": "a.so"})");
  write_file(dir + "/b.json", R"({"id": "same", "kind": "vector_backend", "library": "b.so"})");
  try {
    load_manifests(dir);
    FAIL() << "duplicate id accepted";
  } catch (const ManifestError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("b.json"), std::string::npos) << m;
    EXPECT_NE(m.find("a.json"), std::string::npos) << m;
    EXPECT_NE(m.find("/id"), std::string::npos) << m;
  }
}

TEST(ManifestDirectory, TwoDefaultsOfOneKindAreRefused) {
  auto dir = temp_dir();
  write_file(dir + "/a.json",
             R"({"id": "a", "kind": "embed_provider", "library": "a.so", "default": true})");
  write_file(dir + "/b.json",
             R"({"id": "b", "kind": "embed_provider", "library": "b.so", "default": true})");
  EXPECT_THROW(load_manifests(dir), ManifestError);
}

TEST(ManifestDirectory, OnlyJsonFilesInSortedOrder) {
  auto dir = temp_dir();
  write_file(dir + "/b.json", R"({"id": "b", "kind": "embed_provider", "library": "b.so"})");
  write_file(dir + "/a.json", R"({"id": "a", "kind": "vector_backend", "library": "a.so"})");
  write_file(dir + "/notes.txt", "not a manifest");
  std::filesystem::create_directory(dir + "/examples");
  write_file(dir + "/examples/c.json", "{broken");
  auto ms = load_manifests(dir);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].id, "a");
  EXPECT_EQ(ms[1].id, "b");
}

TEST(ManifestDirectory, MissingDirectoryIsAClearError) {
  EXPECT_THROW(load_manifests("/nonexistent/lakehost/manifests"), ManifestError);
}

// RapidJSON parses, copies, compares and writes recursively: a manifest (or a config inside it)
// nested deeper than json::kMaxDepth is refused with a message naming the limit, not parsed.
TEST(Manifest, DeepNestingIsRefusedNamingTheLimit) {
  const std::string head =
      R"({"id": "e1", "kind": "embed_provider", "library": "e.so", "config": )";
  for (size_t levels : {size_t{json::kMaxDepth}, size_t{100000}, size_t{1000000}}) {
    // The config holds `levels` nested arrays: with the outer object, one level too many.
    std::string text = head + std::string(levels, '[') + std::string(levels, ']') + "}";
    auto err = error_of(text);
    EXPECT_NE(err.find("/etc/lakehost/m.json"), std::string::npos) << err.substr(0, 200);
    EXPECT_NE(err.find(std::to_string(json::kMaxDepth)), std::string::npos) << err.substr(0, 200);
    EXPECT_NE(err.find("deeper"), std::string::npos) << err.substr(0, 200);
  }
  // Objects count too, and a whole manifest that is only brackets.
  std::string objects;
  for (int i = 0; i < 200000; ++i) objects += "{\"a\":";
  EXPECT_NE(error_of(head + objects + "1" + std::string(200000, '}') + "}").find("deeper"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(300000, '[')).find("deeper"), std::string::npos);
  // Brackets inside strings are text, not nesting.
  auto m = parse_manifest(head + R"({"s": ")" + std::string(100000, '[') + R"("}})", "m.json");
  EXPECT_EQ(m.config_json.size(), 100000u + 8);
  // Just under the limit is accepted: config at depth kMaxDepth - 1 inside the manifest object.
  const size_t ok = json::kMaxDepth - 2;
  auto deep = parse_manifest(head + "{\"x\": " + std::string(ok, '[') + std::string(ok, ']') + "}}",
                             "m.json");
  EXPECT_EQ(deep.config_json.size(), 6 + 2 * ok);
}

namespace lakehost {
namespace {
// A number with too many significant digits would reach the plugin changed (RapidJSON's parser
// may be 1 ulp off, and differently on each round trip): refused, while 15 digits pass.
TEST(Manifest, NumbersThatCannotRoundTripAreRefused) {
  const std::string head =
      R"({"id": "e", "kind": "embed_provider", "library": "embed-hash.so", "config": {"x": )";
  EXPECT_THROW(parse_manifest(head + "10292233720364028830234}}", "m"), ManifestError);
  EXPECT_NO_THROW(parse_manifest(head + "0.123456789012345}}", "m"));
  EXPECT_NO_THROW(parse_manifest(head + "384}}", "m"));
}
}  // namespace
}  // namespace lakehost
