// The embed provider contract (lh_embed_provider_v1): a fixed dimension; one finite unit vector
// per text, for any text (empty, punctuation only, non-Latin, long); the same text always gives
// the same vector, alone or in a batch, on any thread.
#include <cmath>
#include <string>

#include "conformance/conformance.h"

namespace lakehost::conformance {

namespace {

// Texts every embedder must take.
std::vector<std::string> sample_texts() {
  return {
      "forklift operator with OSHA certification",
      "registered nurse, night shift, ICU",
      "",
      "   ",
      "!!! ??? ...",
      "Soudeur qualifié à Montréal — MIG/TIG",
      "\xe5\x80\x89\xe5\xba\xab\xe4\xbd\x9c\xe6\xa5\xad\xe5\x93\xa1",  // 倉庫作業員
      std::string(20000, 'a') + " " + std::string(5000, 'b'),
      "CNC machinist; 5-axis; tolerances ±0.01 mm",
  };
}

std::vector<std::string_view> views(const std::vector<std::string>& texts) {
  return {texts.begin(), texts.end()};
}

bool same_bits(const float* a, const float* b, uint32_t dim) {
  for (uint32_t i = 0; i < dim; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

std::string quoted(const std::string& text) {
  return "\"" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "\"";
}

}  // namespace

std::vector<Case> embedder_cases() {
  return {
      {"embed.dimension", "dimension() is a fixed number from 1 to 65536, and every vector has it",
       [](const Factory& make) {
         auto e = make();
         const uint32_t dim = embed::dimension(*e);
         check(dim >= 1 && dim <= 65536, "dimension() is " + std::to_string(dim));
         check(embed::dimension(*e) == dim, "dimension() changed between two calls");
         const auto texts = sample_texts();
         auto v = embed::run(*e, views(texts));
         check(v.size() == texts.size() * dim,
               "embedding " + std::to_string(texts.size()) + " texts gave " +
                   std::to_string(v.size()) + " floats, not " + std::to_string(texts.size() * dim));
       }},
      {"embed.unit_norm", "every vector is finite and has unit length (within 1e-3), for any text",
       [](const Factory& make) {
         auto e = make();
         const uint32_t dim = embed::dimension(*e);
         const auto texts = sample_texts();
         auto v = embed::run(*e, views(texts));
         for (size_t i = 0; i < texts.size(); ++i) {
           double norm = 0;
           for (uint32_t j = 0; j < dim; ++j) {
             const float x = v[i * dim + j];
             check(std::isfinite(x),
                   "the vector of " + quoted(texts[i]) + " has a non-finite component");
             norm += static_cast<double>(x) * x;
           }
           check(std::fabs(std::sqrt(norm) - 1.0) <= 1e-3, "the vector of " + quoted(texts[i]) +
                                                               " has length " +
                                                               std::to_string(std::sqrt(norm)));
         }
       }},
      {"embed.deterministic",
       "the same text gives the same vector, bit for bit, in the same or another instance",
       [](const Factory& make) {
         auto a = make();
         auto b = make();
         const uint32_t dim = embed::dimension(*a);
         const auto texts = sample_texts();
         auto x = embed::run(*a, views(texts));
         auto y = embed::run(*a, views(texts));
         auto z = embed::run(*b, views(texts));
         for (size_t i = 0; i < texts.size(); ++i) {
           check(same_bits(&x[i * dim], &y[i * dim], dim),
                 "two calls gave different vectors for " + quoted(texts[i]));
           check(same_bits(&x[i * dim], &z[i * dim], dim),
                 "two instances gave different vectors for " + quoted(texts[i]));
         }
       }},
      {"embed.batch_matches_single",
       "a text's vector does not depend on the other texts of its batch",
       [](const Factory& make) {
         auto e = make();
         const uint32_t dim = embed::dimension(*e);
         const auto texts = sample_texts();
         auto batch = embed::run(*e, views(texts));
         for (size_t i = 0; i < texts.size(); ++i) {
           auto one = embed::run(*e, {std::string_view(texts[i])});
           check(same_bits(&batch[i * dim], one.data(), dim),
                 "the vector of " + quoted(texts[i]) + " differs alone and in a batch");
         }
       }},
      {"embed.distinguishes_texts", "different texts do not all map to one vector",
       [](const Factory& make) {
         auto e = make();
         const uint32_t dim = embed::dimension(*e);
         auto v = embed::run(*e, {"forklift operator moving pallets", "registered nurse in icu"});
         check(!same_bits(&v[0], &v[dim], dim),
               "\"forklift operator moving pallets\" and \"registered nurse in icu\" have the "
               "same vector");
       }},
      {"embed.concurrent_calls", "calls from several threads at once give the serial results",
       [](const Factory& make) {
         auto e = make();
         const uint32_t dim = embed::dimension(*e);
         const auto texts = sample_texts();
         const auto serial = embed::run(*e, views(texts));
         concurrently(4, [&](int t) {
           for (int round = 0; round < 10; ++round) {
             const size_t i = static_cast<size_t>(t + round) % texts.size();
             auto v = embed::run(*e, {std::string_view(texts[i])});
             check(same_bits(v.data(), &serial[i * dim], dim),
                   "a concurrent call gave another vector for " + quoted(texts[i]));
           }
         });
       }},
  };
}

}  // namespace lakehost::conformance
