// Loader-level refusals: PluginLoader is given deliberately broken plugins (tests/broken-plugins)
// and untrusted files, and must refuse each with a LoadError that names the manifest file and
// the library file (and, for ABI mismatches, both versions). Also the positive side of the same
// checks: a correct sha256 pin loads, identical bytes share one library, and a library rebuilt
// at the same path is loaded as new content.
#include <gtest/gtest.h>
#include <lakehost/plugin_api.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>

#include "host_process.h"
#include "plugin/calls.h"
#include "plugin/loader.h"
#include "plugin/manifest.h"
#include "plugin_fixture.h"

namespace fs = std::filesystem;
using namespace lakehost;
using lakehost::test::read_file;
using lakehost::test::temp_dir;
using lakehost::test::write_file;

namespace {

const fs::path kPluginDir = LAKEHOST_TEST_PLUGIN_DIR;
const fs::path kBrokenDir = LAKEHOST_BROKEN_PLUGIN_DIR;

std::string host_abi() { return std::to_string(LH_ABI_MAJOR) + "." + std::to_string(LH_ABI_MINOR); }

// Copies `from` to `to` (replacing it) with mode `mode`, whatever the umask.
void install(const fs::path& from, const fs::path& to, fs::perms mode = fs::perms(0755)) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, mode, fs::perm_options::replace);
}

// A loader over `plugin_dirs`, with fresh runtime/data directories, and a folder to write
// manifests into.
class LoaderTest : public ::testing::Test {
 protected:
  void TearDown() override { Reaper::instance().drain(); }

  PluginLoader& loader(std::vector<fs::path> plugin_dirs = {kPluginDir, kBrokenDir}) {
    LoaderOptions o;
    o.plugin_dirs = std::move(plugin_dirs);
    o.runtime_dir = fs::path(temp_dir()) / "runtime";
    o.data_dir = temp_dir();
    loader_ = std::make_unique<PluginLoader>(o);
    return *loader_;
  }

  // Writes a manifest file and parses it the way the host does.
  Manifest manifest(const std::string& library, const std::string& kind = "embed_provider",
                    const std::string& config = "{}", const std::string& extra = "",
                    const std::string& id = "under-test") {
    const std::string text = R"({"id": ")" + id + R"(", "kind": ")" + kind + R"(", "library": ")" +
                             library + R"(", "config": )" + config + extra + "}";
    const fs::path file = fs::path(manifests_) / (id + ".json");
    write_file(file.string(), text);
    return parse_manifest(text, file);
  }

  // The LoadError message of instantiate(m); records a failure if it does not throw one.
  std::string refusal(const Manifest& m) {
    try {
      auto inst = loader_->instantiate(m);
      ADD_FAILURE() << m.library << " was loaded and created; expected a refusal";
    } catch (const LoadError& e) {
      return e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "expected a LoadError, got another exception: " << e.what();
      return e.what();
    }
    return "";
  }

  std::string manifests_ = temp_dir();
  std::unique_ptr<PluginLoader> loader_;
};

// The message names the manifest file and the library file (by its resolved path).
#define EXPECT_NAMES_FILES(msg, m, library_path)                \
  do {                                                          \
    EXPECT_NE((msg).find((m).file.string()), std::string::npos) \
        << "the message does not name the manifest: " << (msg); \
    EXPECT_NE((msg).find((library_path)), std::string::npos)    \
        << "the message does not name the library: " << (msg);  \
  } while (0)

#define EXPECT_CONTAINS(msg, part) \
  EXPECT_NE((msg).find(part), std::string::npos) << "expected \"" << (part) << "\" in: " << (msg)

std::string broken(const std::string& name) {
  return fs::canonical(kBrokenDir / (name + ".so")).string();
}

// ---- broken plugins ---------------------------------------------------------------------------

TEST_F(LoaderTest, RefusesAbiMajorMismatchNamingBothVersions) {
  loader();
  auto m = manifest("broken-abi-major-mismatch.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, broken("broken-abi-major-mismatch"));
  EXPECT_CONTAINS(msg, "plugin ABI " + std::to_string(LH_ABI_MAJOR + 1) + ".0");
  EXPECT_CONTAINS(msg, "this host speaks " + host_abi());
}

TEST_F(LoaderTest, RefusesAbiMinorNewerNamingBothVersions) {
  loader();
  auto m = manifest("broken-abi-minor-newer.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, broken("broken-abi-minor-newer"));
  EXPECT_CONTAINS(
      msg, "plugin ABI " + std::to_string(LH_ABI_MAJOR) + "." + std::to_string(LH_ABI_MINOR + 1));
  EXPECT_CONTAINS(msg, "newer than this host's " + host_abi());
}

TEST_F(LoaderTest, RefusesLibraryWithoutEntrySymbol) {
  loader();
  auto m = manifest("broken-no-entry.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, broken("broken-no-entry"));
  EXPECT_CONTAINS(msg, "does not export \"" LH_PLUGIN_ENTRY_SYMBOL "\"");
}

// The entry in either form (plugin_api.h): the natural C function, from a plugin written in C.
TEST_F(LoaderTest, AcceptsAPlainCFunctionEntry) {
  loader();
  auto inst = loader_->instantiate(manifest("embed-c-entry.so"));
  EXPECT_STREQ(inst->library().descriptor().name, "embed-c-entry");
  ASSERT_EQ(embed::dimension(*inst), 4u);
  const auto v = embed::run(*inst, {"a b", "a b", "longer text"});
  ASSERT_EQ(v.size(), 12u);
  EXPECT_TRUE(std::equal(v.begin(), v.begin() + 4, v.begin() + 4));
  EXPECT_FALSE(std::equal(v.begin(), v.begin() + 4, v.begin() + 8));
}

// A variable under the entry's name that is not a pointer is refused by its type and size: the
// loader neither reads it as an address nor calls it (it used to, and the host died of SIGSEGV).
TEST_F(LoaderTest, RefusesAnEntryVariableThatIsNotAPointer) {
  loader();
  auto m = manifest("broken-entry-not-a-pointer.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, broken("broken-entry-not-a-pointer"));
  EXPECT_CONTAINS(msg, "is a variable of 14 bytes, neither a function nor a pointer to one");
}

TEST_F(LoaderTest, RefusesAnEntryPointerThatDoesNotPointToCode) {
  loader();
  auto m = manifest("broken-entry-points-to-data.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, broken("broken-entry-points-to-data"));
  EXPECT_CONTAINS(msg, "variable does not point to a function in the library");
}

TEST_F(LoaderTest, RefusesInstanceWhoseConstructorThrows) {
  loader();
  auto m = manifest("broken-create-throws.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, broken("broken-create-throws"));
  // The SDK helper caught the exception and handed its text to the host.
  EXPECT_CONTAINS(msg, "create_throws: this constructor always throws");
}

TEST_F(LoaderTest, RefusesInstanceWhoseCreateFails) {
  loader();
  auto m = manifest("broken-create-fails.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, broken("broken-create-fails"));
  EXPECT_CONTAINS(msg, "create_fails: refusing every config on purpose");
}

TEST_F(LoaderTest, RefusesTruncatedFunctionTable) {
  loader();
  auto m = manifest("broken-truncated-table.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, broken("broken-truncated-table"));
  EXPECT_CONTAINS(msg, "function table is truncated");
  EXPECT_CONTAINS(msg, std::to_string(sizeof(lh_embed_provider_v1)) + " bytes");
}

TEST_F(LoaderTest, RefusesNullRequiredFunction) {
  loader();
  auto m = manifest("broken-null-table-function.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, broken("broken-null-table-function"));
  EXPECT_CONTAINS(msg, "function table has no function at byte " +
                           std::to_string(offsetof(lh_embed_provider_v1, embed)));
}

TEST_F(LoaderTest, EmbedThrowsLoadsFine) {
  // Its defect only shows at request time (see the host-level test).
  loader();
  auto inst = loader_->instantiate(manifest("broken-embed-throws.so"));
  ASSERT_NE(inst->self(), nullptr);
  EXPECT_STREQ(inst->library().descriptor().name, "broken-embed-throws");
  const auto& t = inst->table<lh_embed_provider_v1>();
  lh_str text{"x", 1};
  float out[8] = {};
  lh_error err{};
  EXPECT_EQ(t.embed(inst->self(), &text, 1, out, &err), LH_ERR_INTERNAL);
  EXPECT_STREQ(err.message, "embed_throws: embed() always throws");
}

// ---- config against the plugin's schema --------------------------------------------------------

TEST_F(LoaderTest, RefusesConfigOfWrongType) {
  loader();
  auto m = manifest("embed-hash.so", "embed_provider", R"({"dimension": "big"})");
  const std::string msg = refusal(m);
  EXPECT_CONTAINS(msg, m.file.string());
  EXPECT_CONTAINS(msg, "/config/dimension");
  EXPECT_CONTAINS(msg, "\"type\"");
}

TEST_F(LoaderTest, RefusesConfigWithUnknownMember) {
  loader();
  auto m = manifest("embed-hash.so", "embed_provider", R"({"dimnesion": 3})");
  const std::string msg = refusal(m);
  EXPECT_CONTAINS(msg, m.file.string());
  EXPECT_CONTAINS(msg, "/config/dimnesion");
  EXPECT_CONTAINS(msg, "unknown member");
}

TEST_F(LoaderTest, RefusesKindMismatch) {
  loader();
  auto m = manifest("embed-hash.so", "vector_backend", R"({})");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, fs::canonical(kPluginDir / "embed-hash.so").string());
  EXPECT_CONTAINS(msg, "/kind is \"vector_backend\"");
  EXPECT_CONTAINS(msg, "embed_provider");
}

// ---- files and trust ---------------------------------------------------------------------------

TEST_F(LoaderTest, RefusesMissingLibrary) {
  loader();
  auto m = manifest("no-such-plugin.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, "no-such-plugin.so");
  EXPECT_CONTAINS(msg, "no such file");
}

// A private plugin directory (0755) holding a copy of embed-hash.so, and a file outside it.
class TrustTest : public LoaderTest {
 protected:
  void SetUp() override {
    root_ = temp_dir();
    dir_ = root_ / "plugins";
    fs::create_directory(dir_);
    fs::permissions(dir_, fs::perms(0755), fs::perm_options::replace);
    install(kPluginDir / "embed-hash.so", dir_ / "embed-hash.so");
    fs::create_directory(root_ / "elsewhere");
    install(kPluginDir / "embed-hash.so", root_ / "elsewhere" / "embed-hash.so");
    install(kPluginDir / "embed-hash.so", root_ / "outside.so");
    loader({dir_});
  }
  fs::path root_, dir_;
};

TEST_F(TrustTest, LoadsFromTheTrustedDirectory) {
  auto inst = loader_->instantiate(manifest("embed-hash.so"));
  EXPECT_EQ(inst->library().path(), fs::canonical(dir_ / "embed-hash.so"));
}

TEST_F(TrustTest, RefusesWorldWritableLibrary) {
  fs::permissions(dir_ / "embed-hash.so", fs::perms(0666), fs::perm_options::replace);
  auto m = manifest("embed-hash.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, fs::canonical(dir_ / "embed-hash.so").string());
  EXPECT_CONTAINS(msg, "world-writable");
}

TEST_F(TrustTest, RefusesGroupWritablePluginDirectory) {
  fs::permissions(dir_, fs::perms(0775), fs::perm_options::replace);
  auto m = manifest("embed-hash.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, fs::canonical(dir_ / "embed-hash.so").string());
  EXPECT_CONTAINS(msg, "plugin directory " + fs::canonical(dir_).string());
  EXPECT_CONTAINS(msg, "group- or world-writable");
}

TEST_F(TrustTest, RefusesRelativePathEscapingThePluginDirectory) {
  auto m = manifest("../outside.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, "../outside.so");
  EXPECT_CONTAINS(msg, fs::canonical(root_ / "outside.so").string());
  EXPECT_CONTAINS(msg, "outside the plugin directories");
}

TEST_F(TrustTest, RefusesAbsolutePathElsewhere) {
  const std::string elsewhere = (root_ / "elsewhere" / "embed-hash.so").string();
  auto m = manifest(elsewhere);
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, elsewhere);
  EXPECT_CONTAINS(msg, "outside the plugin directories");
}

TEST_F(TrustTest, RefusesSymlinkPointingOutside) {
  fs::create_symlink(root_ / "outside.so", dir_ / "link.so");
  auto m = manifest("link.so");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, "link.so");
  EXPECT_CONTAINS(msg, "resolves to " + fs::canonical(root_ / "outside.so").string());
  EXPECT_CONTAINS(msg, "outside the plugin directories");
}

TEST_F(TrustTest, RefusesSha256Mismatch) {
  const std::string actual = sha256_hex(read_file((dir_ / "embed-hash.so").string()));
  const std::string pinned(64, '0');
  auto m = manifest("embed-hash.so", "embed_provider", "{}", R"(, "sha256": ")" + pinned + "\"");
  const std::string msg = refusal(m);
  EXPECT_NAMES_FILES(msg, m, fs::canonical(dir_ / "embed-hash.so").string());
  EXPECT_CONTAINS(msg, "sha256 mismatch");
  EXPECT_CONTAINS(msg, pinned);
  EXPECT_CONTAINS(msg, actual);
}

TEST_F(TrustTest, LoadsWithTheCorrectSha256Pin) {
  const std::string actual = sha256_hex(read_file((dir_ / "embed-hash.so").string()));
  auto m = manifest("embed-hash.so", "embed_provider", "{}", R"(, "sha256": ")" + actual + "\"");
  auto inst = loader_->instantiate(m);
  ASSERT_NE(inst->self(), nullptr);
  EXPECT_EQ(inst->library().sha256(), actual);
}

// ---- sharing and rebuilds ----------------------------------------------------------------------

TEST_F(TrustTest, IdenticalBytesShareOneLibrary) {
  install(kPluginDir / "embed-hash.so", dir_ / "embed-hash-copy.so");
  auto a = loader_->instantiate(manifest("embed-hash.so", "embed_provider", "{}", "", "a"));
  auto b = loader_->instantiate(
      manifest("embed-hash.so", "embed_provider", R"({"dimension": 16})", "", "b"));
  auto c = loader_->instantiate(manifest("embed-hash-copy.so", "embed_provider", "{}", "", "c"));
  EXPECT_EQ(&a->library(), &b->library()) << "same path, same bytes: one library";
  EXPECT_EQ(&a->library(), &c->library()) << "another path, same bytes: one library";
  EXPECT_NE(a->self(), b->self()) << "but separate instances";
}

TEST_F(TrustTest, RebuiltLibraryAtTheSamePathIsNewContent) {
  install(kPluginDir / "embed-hash.so", dir_ / "mine.so");
  auto old_inst = loader_->instantiate(manifest("mine.so"));
  const std::string old_sha = old_inst->library().sha256();

  // "Rebuild" mine.so: other bytes at the same path while the old library is still in use.
  install(kBrokenDir / "broken-embed-throws.so", dir_ / "mine.so");
  auto new_inst = loader_->instantiate(manifest("mine.so"));
  EXPECT_NE(&new_inst->library(), &old_inst->library());
  EXPECT_NE(new_inst->library().sha256(), old_sha);
  EXPECT_EQ(new_inst->library().sha256(), sha256_hex(read_file((dir_ / "mine.so").string())));
  EXPECT_STREQ(new_inst->library().descriptor().name, "broken-embed-throws");
  // The old library is still mapped and its instance still works.
  EXPECT_STREQ(old_inst->library().descriptor().name, "embed-hash");
  const auto& t = old_inst->table<lh_embed_provider_v1>();
  EXPECT_EQ(t.dimension(old_inst->self()), 384u);
  // Each was loaded from its own content-addressed copy.
  const fs::path runtime = loader_->options().runtime_dir;
  EXPECT_TRUE(fs::exists(runtime / (old_sha + ".so")));
  EXPECT_TRUE(fs::exists(runtime / (new_inst->library().sha256() + ".so")));
}

}  // namespace
