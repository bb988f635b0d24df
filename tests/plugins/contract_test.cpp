// The contract of each plugin kind (host/src/conformance/, what `lakehost plugin test` runs)
// instantiated for every shipped plugin: one test per plugin and case, e.g.
// Contract/Cases.Run/vector_hnswlib__vector_self_match. Plugins that talk to a model server run
// against the protocol-faithful local servers of tests/upstreams/ (storage-postgres runs in
// postgres_tests, beside its cluster).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "conformance/conformance.h"
#include "upstream_server.h"

using namespace lakehost;

namespace {

struct Spec {
  std::string label;    // test name part
  std::string library;  // file name in the build's plugin directory
  lh_plugin_kind kind;
  std::function<std::string()> config;  // the manifest's config (may start a local server)
};

std::string jstr(const std::string& s) { return "\"" + s + "\""; }

// One local model server per script for the whole run, started on first use.
const test::UpstreamServer& server(const std::string& script) {
  static std::map<std::string, std::unique_ptr<test::UpstreamServer>> servers;
  auto& s = servers[script];
  if (!s) s = std::make_unique<test::UpstreamServer>(script);
  return *s;
}

const std::vector<Spec>& specs() {
  static const std::vector<Spec> all = {
      {"embed_hash", "embed-hash.so", LH_KIND_EMBED_PROVIDER, [] { return "{}"; }},
      {"embed_hash_64", "embed-hash.so", LH_KIND_EMBED_PROVIDER,
       [] { return R"({"dimension": 64})"; }},
      {"embed_wordvec", "embed-wordvec.so", LH_KIND_EMBED_PROVIDER,
       [] { return "{\"path\": " + jstr(LAKEHOST_WORDVEC_SUBSET) + "}"; }},
      {"embed_ollama", "embed-ollama.so", LH_KIND_EMBED_PROVIDER,
       [] {
         return "{\"base_url\": " + jstr(server("ollama_server.py").base_url()) +
                ", \"model\": \"nomic-embed-text\", \"dimension\": 16}";
       }},
      {"embed_openai", "embed-openai.so", LH_KIND_EMBED_PROVIDER,
       [] {
         return "{\"base_url\": " + jstr(server("openai_server.py").base_url()) +
                ", \"model\": \"text-embedding-3-small\"}";
       }},
      {"vector_faiss", "vector-faiss.so", LH_KIND_VECTOR_BACKEND, [] { return "{}"; }},
      {"vector_faiss_hnsw", "vector-faiss.so", LH_KIND_VECTOR_BACKEND,
       [] { return R"({"factory": "HNSW32", "ef_search": 128})"; }},
      {"vector_hnswlib", "vector-hnswlib.so", LH_KIND_VECTOR_BACKEND,
       [] { return R"({"ef_search": 64})"; }},
      {"scorer_playbook", "scorer-playbook.so", LH_KIND_RETRIEVAL_SCORER, [] { return "{}"; }},
      {"scorer_cosine", "scorer-cosine.so", LH_KIND_RETRIEVAL_SCORER, [] { return "{}"; }},
      {"scorer_hybrid", "scorer-hybrid.so", LH_KIND_RETRIEVAL_SCORER, [] { return "{}"; }},
      {"storage_sqlite", "storage-sqlite.so", LH_KIND_STORAGE_BACKEND, [] { return "{}"; }},
      {"chat_openai", "chat-openai.so", LH_KIND_CHAT_PROVIDER,
       [] {
         return "{\"base_url\": " + jstr(server("openai_server.py").base_url()) +
                ", \"model\": \"gpt-4o-mini\"}";
       }},
      {"chat_ollama", "chat-ollama.so", LH_KIND_CHAT_PROVIDER,
       [] {
         return "{\"base_url\": " + jstr(server("ollama_server.py").base_url()) +
                ", \"model\": \"llama3.2\"}";
       }},
      {"chat_anthropic", "chat-anthropic.so", LH_KIND_CHAT_PROVIDER,
       [] {
         return "{\"base_url\": " + jstr(server("anthropic_server.py").base_url()) +
                ", \"model\": \"claude-test-1\"}";
       }},
  };
  return all;
}

struct Param {
  const Spec* spec;
  std::string case_name;
};

// What gtest prints for a parameter.
void PrintTo(const Param& p, std::ostream* os) { *os << p.spec->label << " " << p.case_name; }

std::vector<Param> params() {
  std::vector<Param> out;
  for (const auto& s : specs())
    for (const auto& c : conformance::cases_for(s.kind)) out.push_back({&s, c.name});
  return out;
}

// Loaded once per plugin and config for the whole run.
const conformance::Subject& subject(const Spec& s) {
  static std::map<std::string, std::unique_ptr<conformance::Subject>> loaded;
  auto& p = loaded[s.label];
  if (!p)
    p = std::make_unique<conformance::Subject>(
        std::string(LAKEHOST_TEST_PLUGIN_DIR) + "/" + s.library, s.config());
  return *p;
}

class Cases : public ::testing::TestWithParam<Param> {};

TEST_P(Cases, Run) {
  const Param& p = GetParam();
  const auto& subj = subject(*p.spec);
  ASSERT_EQ(subj.kind(), p.spec->kind);
  for (const auto& c : conformance::cases_for(subj.kind())) {
    if (c.name != p.case_name) continue;
    const auto r = conformance::run_case(subj, c);
    EXPECT_TRUE(r.passed) << p.spec->library << ": " << c.name << "\n  rule: " << c.rule
                          << "\n  saw:  " << r.message;
    return;
  }
  FAIL() << "no case " << p.case_name;
}

INSTANTIATE_TEST_SUITE_P(Contract, Cases, ::testing::ValuesIn(params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           std::string name = info.param.spec->label + "__" + info.param.case_name;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

}  // namespace
