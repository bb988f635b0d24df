// lakehost-embed-eval: retrieval quality of embed providers on a labelled query set.
//
// Each variant is a real plugin .so with a config, loaded through the host's own loader
// (lakehost_core: the same trust, ABI and schema checks as `lakehost serve`). The tool embeds
// every document of the corpus and every query, ranks the documents by cosine (the vectors are
// unit length, so a dot product) and prints, per query class, P@5 (the share of the top 5
// whose role is the query's role) and MRR (1 / rank of the first document of that role).
//
//   lakehost-embed-eval --vectors data/wordvec/wink-sg-100d.lhwv          (the built-in variants)
//   lakehost-embed-eval --variant 'mine=embed-wordvec:{"path": "${VECTORS}"}' --vectors FILE
//
// In a variant's config, ${VECTORS} and ${CORPUS} stand for the absolute paths of --vectors and
// --corpus. The query set is checked first (eval_set.h): a paraphrase_disjoint query that shares
// a word with its role's documents stops the run.
#include <lakehost/plugin_api.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "eval_set.h"
#include "plugin/loader.h"
#include "plugin/manifest.h"

namespace fs = std::filesystem;
using namespace embed_eval;

namespace {

struct Variant {
  std::string label, plugin, config;
};

struct Score {
  double p5 = 0, mrr = 0;
  int n = 0;
};

std::vector<Variant> default_variants() {
  const std::string wv = R"("path": "${VECTORS}")";
  const std::string corpus = R"(, "idf_corpus": "${CORPUS}")";
  auto wordvec = [&](const std::string& extra) { return "{" + wv + extra + "}"; };
  std::vector<Variant> v = {
      {"embed-hash 384-d (the default embedder)", "embed-hash", "{}"},
      {"embed-hash 1024-d", "embed-hash", R"({"dimension": 1024})"},
      {"wordvec uniform mean", "embed-wordvec",
       wordvec(R"(, "weighting": "uniform", "fusion_weight": 1)")},
      {"wordvec rank_idf^1", "embed-wordvec",
       wordvec(R"(, "weighting": "rank_idf", "idf_power": 1, "fusion_weight": 1)")},
      {"wordvec rank_idf^2", "embed-wordvec", wordvec(R"(, "fusion_weight": 1)")},
      {"wordvec rank_idf^2, no fallbacks", "embed-wordvec",
       wordvec(R"(, "fallbacks": false, "fusion_weight": 1)")},
      {"wordvec corpus_idf^2", "embed-wordvec",
       wordvec(corpus + R"(, "weighting": "corpus_idf", "fusion_weight": 1)")},
      {"wordvec min_idf^1", "embed-wordvec",
       wordvec(corpus + R"(, "idf_power": 1, "fusion_weight": 1)")},
      {"wordvec min_idf^2", "embed-wordvec", wordvec(corpus + R"(, "fusion_weight": 1)")},
      {"wordvec min_idf^3", "embed-wordvec",
       wordvec(corpus + R"(, "idf_power": 3, "fusion_weight": 1)")},
      {"wordvec min_idf^2, no fallbacks", "embed-wordvec",
       wordvec(corpus + R"(, "fallbacks": false, "fusion_weight": 1)")},
  };
  for (const char* w : {"0.5", "0.7"}) {
    v.push_back({std::string("fusion ") + w + " rank_idf^2 + hash 384", "embed-wordvec",
                 wordvec(std::string(R"(, "fusion_weight": )") + w)});
    v.push_back({std::string("fusion ") + w + " corpus_idf^2 + hash 384", "embed-wordvec",
                 wordvec(corpus + R"(, "weighting": "corpus_idf", "fusion_weight": )" + w)});
  }
  for (const char* w : {"0.5", "0.6", "0.7", "0.8"}) {
    v.push_back({std::string("fusion ") + w + " min_idf^2 + hash 384", "embed-wordvec",
                 wordvec(corpus + R"(, "fusion_weight": )" + w)});
    v.push_back(
        {std::string("fusion ") + w + " min_idf^2 + hash 1024", "embed-wordvec",
         wordvec(corpus + R"(, "fusion_weight": )" + w + R"(, "hash": {"dimension": 1024})")});
  }
  v.push_back(
      {"fusion 0.7 min_idf^2 + hash 1024, no fallbacks", "embed-wordvec",
       wordvec(corpus +
               R"(, "fusion_weight": 0.7, "fallbacks": false, "hash": {"dimension": 1024})")});
  return v;
}

std::string substitute(std::string s, const std::string& key, const std::string& value) {
  for (size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + value.size()))
    s.replace(p, key.size(), value);
  return s;
}

// JSON string contents for a path (backslashes and quotes escaped).
std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

std::vector<float> embed_all(const lakehost::PluginInstance& inst,
                             const std::vector<std::string>& texts) {
  const auto& api = inst.table<lh_embed_provider_v1>();
  const size_t dim = api.dimension(inst.self());
  std::vector<float> out(texts.size() * dim);
  constexpr size_t kBatch = 64;
  for (size_t i = 0; i < texts.size(); i += kBatch) {
    std::vector<lh_str> in;
    for (size_t j = i; j < std::min(texts.size(), i + kBatch); ++j)
      in.push_back({texts[j].data(), texts[j].size()});
    lh_error err{};
    if (api.embed(inst.self(), in.data(), in.size(), out.data() + i * dim, &err) != LH_OK)
      throw std::runtime_error(std::string("embed failed: ") + err.message);
  }
  return out;
}

[[noreturn]] void usage(int code) {
  std::cout
      << "usage: lakehost-embed-eval [--vectors FILE.lhwv] [--corpus FILE.jsonl]\n"
         "         [--queries FILE.jsonl] [--plugin-dir DIR] [--variant LABEL=PLUGIN:CONFIG]...\n"
         "         [--details]\n"
         "  Without --variant, runs the built-in variants (embed-hash and embed-wordvec\n"
         "  weightings and fusion weights; --vectors is then required).\n";
  std::exit(code);
}

}  // namespace

int main(int argc, char** argv) try {
  std::string vectors, corpus = LAKEHOST_SOURCE_DIR "/data/demo/workers.jsonl",
                       queries_path = LAKEHOST_SOURCE_DIR "/data/eval/staffing-queries.jsonl",
                       plugin_dir = LAKEHOST_PLUGIN_BUILD_DIR;
  std::vector<Variant> variants;
  bool details = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    if (a == "--vectors") {
      vectors = value();
    } else if (a == "--corpus") {
      corpus = value();
    } else if (a == "--queries") {
      queries_path = value();
    } else if (a == "--plugin-dir") {
      plugin_dir = value();
    } else if (a == "--details") {
      details = true;
    } else if (a == "--variant") {
      const std::string v = value();
      const auto eq = v.find('='), colon = v.find(':', eq == std::string::npos ? 0 : eq);
      if (eq == std::string::npos || colon == std::string::npos) usage(2);
      variants.push_back({v.substr(0, eq), v.substr(eq + 1, colon - eq - 1), v.substr(colon + 1)});
    } else if (a == "-h" || a == "--help") {
      usage(0);
    } else {
      usage(2);
    }
  }
  if (variants.empty()) {
    if (vectors.empty()) {
      std::cerr << "lakehost-embed-eval: the built-in variants need --vectors FILE.lhwv\n";
      return 2;
    }
    variants = default_variants();
  }
  spdlog::set_level(spdlog::level::warn);  // plugins log their config at info level

  const auto docs = read_corpus(corpus);
  const auto queries = read_queries(queries_path);
  check(queries, docs);
  std::vector<std::string> doc_texts, query_texts;
  for (const auto& d : docs) doc_texts.push_back(d.text);
  for (const auto& q : queries) query_texts.push_back(q.text);

  const fs::path work =
      fs::temp_directory_path() / ("lakehost-embed-eval-" + std::to_string(getpid()));
  fs::create_directories(work / "loaded");
  lakehost::LoaderOptions lo;
  lo.plugin_dirs = {plugin_dir};
  lo.runtime_dir = work / "loaded";
  lo.data_dir = work;
  lakehost::PluginLoader loader(lo);

  std::map<std::string, int> per_class;
  for (const auto& q : queries) ++per_class[q.klass];
  std::cout << "corpus " << corpus << ": " << docs.size() << " documents; queries " << queries_path
            << ":";
  for (const auto& c : classes()) std::cout << " " << c << " " << per_class[c];
  std::cout << "\n\n| variant | dim |";
  for (const auto& c : classes()) std::cout << " " << c << " P@5 | MRR |";
  std::cout << " create ms | embed ms |\n|---|---|";
  for (size_t c = 0; c < classes().size(); ++c) std::cout << "---|---|";
  std::cout << "---|---|\n";

  for (const auto& v : variants) {
    std::string config = substitute(v.config, "${VECTORS}",
                                    vectors.empty() ? "" : json_escape(fs::absolute(vectors)));
    config = substitute(config, "${CORPUS}", json_escape(fs::absolute(corpus)));
    const std::string manifest = R"({"id": "eval", "kind": "embed_provider", "library": ")" +
                                 v.plugin + R"(.so", "config": )" + config + "}";
    const auto t_create = std::chrono::steady_clock::now();
    auto inst = loader.instantiate(lakehost::parse_manifest(manifest, "<variant " + v.label + ">"));
    const double create_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_create)
            .count();
    const size_t dim = inst->table<lh_embed_provider_v1>().dimension(inst->self());
    const auto t0 = std::chrono::steady_clock::now();
    const auto dv = embed_all(*inst, doc_texts);
    const auto qv = embed_all(*inst, query_texts);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    std::map<std::string, Score> scores;
    std::vector<std::pair<double, size_t>> ranked(docs.size());
    for (size_t qi = 0; qi < queries.size(); ++qi) {
      for (size_t di = 0; di < docs.size(); ++di) {
        double dot = 0;
        for (size_t j = 0; j < dim; ++j) dot += double(qv[qi * dim + j]) * dv[di * dim + j];
        ranked[di] = {-dot, di};  // ascending: best first; ties by document order
      }
      std::sort(ranked.begin(), ranked.end());
      int hits = 0;
      size_t first = 0;
      for (size_t r = 0; r < ranked.size(); ++r) {
        const bool relevant = docs[ranked[r].second].role == queries[qi].role;
        if (relevant && r < 5) ++hits;
        if (relevant && first == 0) first = r + 1;
      }
      Score& s = scores[queries[qi].klass];
      s.p5 += hits / 5.0;
      s.mrr += first ? 1.0 / first : 0.0;
      ++s.n;
      if (details) {
        std::printf("  %-34.34s %-22.22s %-58.58s P@5 %.1f first %zu; top:", v.label.c_str(),
                    queries[qi].klass.c_str(), queries[qi].text.c_str(), hits / 5.0, first);
        for (size_t r = 0; r < 3; ++r) std::printf(" %s;", docs[ranked[r].second].role.c_str());
        std::printf("\n");
      }
    }
    std::printf("| %s | %zu |", v.label.c_str(), dim);
    for (const auto& c : classes()) {
      const Score& s = scores[c];
      std::printf(" %.2f | %.2f |", s.n ? s.p5 / s.n : 0.0, s.n ? s.mrr / s.n : 0.0);
    }
    std::printf(" %.1f | %.1f |\n", create_ms, ms);
    std::fflush(stdout);
  }
  lakehost::Reaper::instance().drain();
  std::error_code ec;
  fs::remove_all(work, ec);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "lakehost-embed-eval: " << e.what() << "\n";
  return 1;
}
