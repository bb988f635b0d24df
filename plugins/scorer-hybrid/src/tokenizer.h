// scorer-hybrid's tokenizer: the same function turns documents and queries into terms, so a
// query term matches a document term exactly when both texts contain it spelled the same way.
//
// Rules (README.md, "Tokenising"):
//  - Text is read as UTF-8 bytes. ASCII letters and digits and every byte >= 0x80 are word bytes;
//    every other ASCII byte separates words. A multi-byte character therefore always stays whole
//    inside its word (no byte of a UTF-8 sequence is ASCII), and invalid UTF-8 cannot split one.
//  - ASCII letters are lowercased; other bytes are kept as they are (no Unicode case folding).
//  - Each word is a term, unless it is on the small English stopword list (when enabled).
//  - A "compound" (a run of text without whitespace holding two or more words, e.g. "OSHA-10",
//    "IPC-A-610", "D1.1", "CPR/First") ALSO yields its words joined: "osha10", "ipca610", "d11".
//    So "OSHA-10", "OSHA 10" and "OSHA10" all meet on some term, and the exact spelling
//    matches one more term than a loose one.
// Header-only and std-only so the contract tests can check it directly.
#pragma once

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace scorer_hybrid {

inline bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

inline bool is_space_byte(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Words too common to help ranking. Kept short on purpose: IDF already weighs common words
// down, and every entry is a word nobody can search for ("IN" the state code included).
inline bool is_stopword(std::string_view w) {
  static constexpr std::array<std::string_view, 33> kStopwords = {
      "a",    "an",   "and",   "are",  "as",    "at",    "be",   "but",  "by", "for", "from",
      "has",  "have", "in",    "into", "is",    "it",    "its",  "of",   "on", "or",  "s",
      "that", "the",  "their", "then", "there", "these", "they", "this", "to", "was", "with"};
  return std::find(kStopwords.begin(), kStopwords.end(), w) != kStopwords.end();
}

// Appends the terms of `text` to `out`, in text order (repeats kept: they are term frequencies).
inline void tokenize(std::string_view text, bool stopwords, std::vector<std::string>& out) {
  std::string word, joined;
  size_t words_in_run = 0;
  auto end_word = [&] {
    if (word.empty()) return;
    if (!stopwords || !is_stopword(word)) out.push_back(word);
    joined += word;
    ++words_in_run;
    word.clear();
  };
  auto end_run = [&] {
    end_word();
    if (words_in_run >= 2) out.push_back(joined);
    joined.clear();
    words_in_run = 0;
  };
  for (unsigned char c : text) {
    if (is_word_byte(c)) {
      word += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c);
    } else if (is_space_byte(c)) {
      end_run();
    } else {
      end_word();  // punctuation ends a word but not the compound it belongs to
    }
  }
  end_run();
}

inline std::vector<std::string> tokenize(std::string_view text, bool stopwords) {
  std::vector<std::string> out;
  tokenize(text, stopwords, out);
  return out;
}

}  // namespace scorer_hybrid
