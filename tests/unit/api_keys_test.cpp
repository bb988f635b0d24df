// The API key file, the lookup of a presented key, and reading a key from a request's head.
#include "http/api_keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "http/head.h"

namespace lakehost {
namespace {

std::string entry(const std::string& name, const std::string& key, const std::string& scopes,
                  const std::string& extra = "") {
  return "{\"name\": \"" + name + "\", \"sha256\": \"" + to_hex(sha256_of(key)) +
         "\", \"scopes\": " + scopes + extra + "}";
}

TEST(ApiKeyFile, ParsesNamesDigestsScopesAndCollections) {
  std::string error;
  auto set =
      ApiKeySet::parse("{\"keys\": [" + entry("app", "k1", "[\"read\", \"write\"]") + ", " +
                           entry("ops", "k2", "[\"admin\"]", ", \"collections\": [\"a\", \"b\"]") +
                           "], \"metrics\": \"admin\"}",
                       error);
  ASSERT_TRUE(set) << error;
  ASSERT_EQ(set->keys.size(), 2u);
  EXPECT_TRUE(set->metrics_need_admin);
  const ApiKey* app = set->find("k1");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->name, "app");
  EXPECT_TRUE(app->has(Scope::read) && app->has(Scope::write) && !app->has(Scope::admin));
  EXPECT_FALSE(app->limited());
  const ApiKey* ops = set->find("k2");
  ASSERT_NE(ops, nullptr);
  EXPECT_TRUE(ops->may_touch("a") && ops->may_touch("b") && !ops->may_touch("c"));
  EXPECT_EQ(set->find("k3"), nullptr);
  EXPECT_EQ(set->find(""), nullptr);
  EXPECT_EQ(set->find(std::string(10000, 'k')), nullptr);
  // Upper-case hex digits are the same digest.
  std::string upper = to_hex(sha256_of("K"));
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto u = ApiKeySet::parse(
      "{\"keys\": [{\"name\": \"u\", \"sha256\": \"" + upper + "\", \"scopes\": [\"read\"]}]}",
      error);
  ASSERT_TRUE(u) << error;
  EXPECT_NE(u->find("K"), nullptr);
}

TEST(ApiKeyFile, RefusesWhatItCannotUseNamingTheField) {
  const std::string ok = entry("a", "k", "[\"read\"]");
  const std::pair<std::string, std::string> cases[] = {
      {"", "not JSON"},
      {"[]", "violates \"type\""},
      {"{}", "violates \"required\""},
      {"{\"keys\": [" + ok + "], \"extra\": 1}", "additionalProperties"},
      {"{\"keys\": [{\"name\": \"a\", \"sha256\": \"00\", \"scopes\": [\"read\"]}]}",
       "/keys/0/sha256"},
      {"{\"keys\": [" + entry("a", "k", "[\"root\"]") + "]}", "/keys/0/scopes/0"},
      {"{\"keys\": [" + entry("a", "k", "[]") + "]}", "/keys/0/scopes"},
      {"{\"keys\": [" + entry("a", "k", "[\"read\", \"read\"]") + "]}", "/keys/0/scopes"},
      {"{\"keys\": [" + entry("a b", "k", "[\"read\"]") + "]}", "/keys/0/name"},
      {"{\"keys\": [" + entry("a", "k", "[\"read\"]", ", \"collections\": []") + "]}",
       "/keys/0/collections"},
      {"{\"keys\": [" + entry("a", "k", "[\"read\"]", ", \"collections\": [\"x/y\"]") + "]}",
       "/keys/0/collections/0"},
      {"{\"keys\": [" + ok + ", " + entry("a", "k2", "[\"read\"]") + "]}",
       "/keys/1/name: \"a\" is used by another key"},
      {"{\"keys\": [" + ok + ", " + entry("b", "k", "[\"write\"]") + "]}",
       "/keys/1/sha256: the same digest as key \"a\""},
      {"{\"keys\": [" + ok + "], \"metrics\": \"closed\"}", "/metrics"},
  };
  for (const auto& [text, expected] : cases) {
    std::string error;
    EXPECT_FALSE(ApiKeySet::parse(text, error)) << text;
    EXPECT_NE(error.find(expected), std::string::npos) << text << " -> " << error;
  }
}

TEST(ApiKeyFile, AnEmptyListLocksEveryProtectedRoute) {
  std::string error;
  auto set = ApiKeySet::parse("{\"keys\": []}", error);
  ASSERT_TRUE(set) << error;
  EXPECT_EQ(set->find("anything"), nullptr);
}

TEST(ApiKeyFile, GeneratedKeysAreDistinctAndWellFormed) {
  const std::string a = generate_api_key(), b = generate_api_key();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 67u);
  EXPECT_EQ(a.substr(0, 3), "lh_");
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 3), std::string::npos);
}

TEST(ApiKeyFile, ReloadKeepsTheKeysInForceWhenTheFileBreaks) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("lakehost-unit-keys-" + std::to_string(::getpid()) + ".json");
  auto write = [&](const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
  write("{\"keys\": [" + entry("a", "ka", "[\"read\"]") + "]}");
  ApiKeys keys(path);
  EXPECT_TRUE(keys.enabled());
  EXPECT_NE(keys.current()->find("ka"), nullptr);
  write("{\"keys\": [" + entry("b", "kb", "[\"read\"]") + "]}");
  auto r = keys.reload();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(keys.current()->find("ka"), nullptr);
  EXPECT_NE(keys.current()->find("kb"), nullptr);
  write("{\"keys\": [");
  r = keys.reload();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not JSON"), std::string::npos) << r.error;
  EXPECT_EQ(r.keys, 1u);
  EXPECT_NE(keys.current()->find("kb"), nullptr);
  std::string m;
  keys.render_metrics(m);
  EXPECT_NE(m.find("lakehost_api_key_reload_failures_total 1"), std::string::npos) << m;
  std::filesystem::remove(path);
  EXPECT_THROW(ApiKeys{path}, std::runtime_error);
}

TEST(RequestCredential, BearerOrXApiKey) {
  const std::string bearer = "Bearer abc", key = "abc", other = "xyz";
  auto c = credential_from_headers(&bearer, nullptr, false);
  EXPECT_EQ(c.kind, Credential::Kind::key);
  EXPECT_EQ(c.key, "abc");
  c = credential_from_headers(nullptr, &key, false);
  EXPECT_EQ(c.kind, Credential::Kind::key);
  c = credential_from_headers(&bearer, &key, false);  // the same key twice is fine
  EXPECT_EQ(c.kind, Credential::Kind::key);
  EXPECT_EQ(credential_from_headers(&bearer, &other, false).kind, Credential::Kind::malformed);
  EXPECT_EQ(credential_from_headers(&bearer, nullptr, true).kind, Credential::Kind::malformed);
  EXPECT_EQ(credential_from_headers(nullptr, nullptr, false).kind, Credential::Kind::none);
  for (std::string bad : {"Basic abc", "Bearer", "Bearer ", "Token abc", "Bearer a b",
                          "Bearer a\x01", "Bearer \xc3\xa9"}) {
    EXPECT_EQ(credential_from_headers(&bad, nullptr, false).kind, Credential::Kind::malformed)
        << bad;
  }
  const std::string empty;
  EXPECT_EQ(credential_from_headers(nullptr, &empty, false).kind, Credential::Kind::malformed);
}

TEST(RequestHead, ReadsTheRequestLineFramingAndCredential) {
  auto h = parse_request_head(
      "POST /v1/collections/a/search?x=1 HTTP/1.1\r\nHost: h\r\nx-api-KEY:  k1 \r\n"
      "Content-Length: 12\r\n\r\n",
      100);
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.path, "/v1/collections/a/search");
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_FALSE(h.refusal);
  EXPECT_EQ(h.credential.kind, Credential::Kind::key);
  EXPECT_EQ(h.credential.key, "k1");

  h = parse_request_head(
      "GET / HTTP/1.1\r\nAuthorization: Bearer a\r\nauthorization: Bearer a\r\n\r\n", 100);
  EXPECT_EQ(h.credential.kind, Credential::Kind::malformed);  // repeated header
  h = parse_request_head("GET / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 100);
  ASSERT_TRUE(h.refusal);
  EXPECT_EQ(h.refusal->status, 413);
  h = parse_request_head("garbage\r\n\r\n", 100);
  EXPECT_TRUE(h.method.empty());
}

TEST(RequestHead, PathsSplitAndDecode) {
  EXPECT_EQ(split_path("/a//b/"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(url_decode("a%20b%2Fc"), "a b/c");
  EXPECT_EQ(url_decode("%4a%4A"), "JJ");
  EXPECT_FALSE(url_decode("%zz"));
  EXPECT_FALSE(url_decode("%4"));
}

}  // namespace
}  // namespace lakehost
