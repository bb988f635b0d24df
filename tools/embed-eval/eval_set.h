// The labelled retrieval-quality set: a corpus of documents with a role each
// (data/demo/workers.jsonl) and queries labelled with the relevant role and a class
// (data/eval/staffing-queries.jsonl). Shared by lakehost-embed-eval and tests/wordvec, which
// checks that the set keeps its promises (the "no shared word" class really shares none).
#pragma once

#include <rapidjson/document.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace embed_eval {

struct Document {
  std::string id, text, role;
};

struct Query {
  std::string text, role, klass;
};

// The query classes, in report order.
inline const std::vector<std::string>& classes() {
  static const std::vector<std::string> c = {"role_name", "paraphrase_shared",
                                             "paraphrase_disjoint"};
  return c;
}

inline std::vector<rapidjson::Document> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::vector<rapidjson::Document> out;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.empty()) continue;
    rapidjson::Document d;
    if (d.Parse(line.data(), line.size()).HasParseError() || !d.IsObject())
      throw std::runtime_error(path + " line " + std::to_string(n) + ": not a JSON object");
    out.push_back(std::move(d));
  }
  return out;
}

inline std::string member(const rapidjson::Value& v, const char* name, const std::string& where) {
  if (!v.IsObject() || !v.HasMember(name) || !v[name].IsString())
    throw std::runtime_error(where + ": no string \"" + name + "\"");
  return {v[name].GetString(), v[name].GetStringLength()};
}

inline std::vector<Document> read_corpus(const std::string& path) {
  std::vector<Document> docs;
  for (const auto& d : read_jsonl(path)) {
    if (!d.HasMember("metadata")) throw std::runtime_error(path + ": a document has no metadata");
    docs.push_back({member(d, "id", path), member(d, "text", path),
                    member(d["metadata"], "role", path + " metadata")});
  }
  return docs;
}

inline std::vector<Query> read_queries(const std::string& path) {
  std::vector<Query> qs;
  for (const auto& d : read_jsonl(path)) {
    Query q{member(d, "query", path), member(d, "role", path), member(d, "class", path)};
    const auto& c = classes();
    if (std::find(c.begin(), c.end(), q.klass) == c.end())
      throw std::runtime_error(path + ": unknown class \"" + q.klass + "\"");
    qs.push_back(std::move(q));
  }
  return qs;
}

// ---- "shares no word": lowercase ASCII alphanumeric words, stopwords ignored, plural s folded --

inline const std::set<std::string>& stopwords() {
  static const std::set<std::string> s = {
      "a",    "an",   "the",  "and",   "or",  "of",      "to",    "in",    "on",  "for",
      "with", "who",  "that", "which", "can", "is",      "are",   "be",    "at",  "by",
      "from", "into", "onto", "as",    "it",  "its",     "this",  "their", "his", "her",
      "they", "we",   "you",  "i",     "up",  "someone", "person"};
  return s;
}

// "pallets" and "pallet" count as the same word (hashing's 3-grams would match them anyway).
inline std::string fold(std::string w) {
  if (w.size() > 3 && w.back() == 's') w.pop_back();
  return w;
}

// The folded non-stopwords of a text.
inline std::set<std::string> content_words(const std::string& text) {
  std::set<std::string> out;
  std::string w;
  auto flush = [&] {
    if (!w.empty() && !stopwords().count(w)) out.insert(fold(w));
    w.clear();
  };
  for (char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum)
      w += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    else
      flush();
  }
  flush();
  return out;
}

// The words a query shares with the documents of its role (empty for a valid disjoint query).
inline std::set<std::string> shared_words(const Query& q, const std::vector<Document>& docs) {
  const auto words = content_words(q.text);
  std::set<std::string> shared;
  for (const auto& d : docs) {
    if (d.role != q.role) continue;
    for (const auto& w : content_words(d.text))
      if (words.count(w)) shared.insert(w);
  }
  return shared;
}

// Throws unless every query names a role of the corpus, every paraphrase_disjoint query shares
// no word with its role's documents and every paraphrase_shared query shares at least one.
inline void check(const std::vector<Query>& qs, const std::vector<Document>& docs) {
  std::set<std::string> roles;
  for (const auto& d : docs) roles.insert(d.role);
  for (const auto& q : qs) {
    if (!roles.count(q.role))
      throw std::runtime_error("query \"" + q.text + "\": no document has role " + q.role);
    const auto shared = shared_words(q, docs);
    if (q.klass == "paraphrase_disjoint" && !shared.empty())
      throw std::runtime_error("query \"" + q.text + "\" is in paraphrase_disjoint but shares \"" +
                               *shared.begin() + "\" with " + q.role + " documents");
    if (q.klass == "paraphrase_shared" && shared.empty())
      throw std::runtime_error("query \"" + q.text +
                               "\" is in paraphrase_shared but shares no word with " + q.role +
                               " documents");
  }
}

}  // namespace embed_eval
