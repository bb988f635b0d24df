#include "json_util.h"

#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace lakehost::json {

bool is_clean_text(std::string_view s) {
  if (s.find('\0') != std::string_view::npos) return false;
  // RapidJSON's string stream reads up to a NUL terminator, and UTF8::Validate reads all the
  // continuation bytes a lead byte announces before judging them: a text ending in a truncated
  // sequence made it read up to 3 bytes past the end (found by the descriptor fuzzer under
  // ASan). Three more NULs keep those reads inside the copy; NUL is never a continuation byte.
  std::string copy(s);
  copy.append(3, '\0');
  rapidjson::StringStream in(copy.c_str());
  struct Discard {
    void Put(char) {}
  } out;
  while (in.Tell() < s.size())
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  return true;
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    // The sequence length a lead byte announces; 0 for bytes that never lead (C0, C1, F5..FF).
    const size_t n = c < 0x80                 ? 1
                     : c >= 0xC2 && c <= 0xDF ? 2
                     : c >= 0xE0 && c <= 0xEF ? 3
                     : c >= 0xF0 && c <= 0xF4 ? 4
                                              : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n >= 3) {  // no overlong forms, no surrogates, nothing above U+10FFFF
      const auto d = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && d < 0xA0) && !(c == 0xED && d >= 0xA0) && !(c == 0xF0 && d < 0x90) &&
           !(c == 0xF4 && d >= 0x90);
    }
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

std::optional<size_t> too_deep_at(std::string_view text, unsigned max_depth) {
  // On any prefix RapidJSON accepts, this count equals the parser's own depth, so scanning
  // first bounds its recursion even for malformed text (it stops at the first bad byte).
  unsigned depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return i;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

namespace {
// The byte offset of a "\\uDC00".."\\uDFFF" escape not preceded by a high-surrogate escape.
// RapidJSON 1.1 checks that a high surrogate is followed by a low one, but decodes a lone low
// surrogate into 3 bytes that are not UTF-8 (ED B0..BF xx), even with encoding validation: such
// text was stored, echoed in answers that were then not JSON, and refused by PostgreSQL (found
// by the manifest and api_keys fuzzers: a canonical config or an error message that did not
// parse again).
std::optional<size_t> lone_low_surrogate_at(std::string_view text) {
  bool in_string = false, after_high = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_string) {
      in_string = c == '"';
      continue;
    }
    if (c == '"') {
      in_string = after_high = false;
    } else if (c == '\\' && i + 1 < text.size()) {
      if (text[i + 1] == 'u' && i + 5 < text.size()) {
        const unsigned v = static_cast<unsigned>(
            std::strtoul(std::string(text.substr(i + 2, 4)).c_str(), nullptr, 16));
        if (v >= 0xDC00 && v <= 0xDFFF && !after_high) return i;
        after_high = v >= 0xD800 && v <= 0xDBFF;
        i += 5;
        continue;
      }
      after_high = false;
      ++i;
    } else {
      after_high = false;
    }
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> parse(std::string_view text, rapidjson::Document& out) {
  if (auto at = too_deep_at(text)) {
    out.SetNull();
    return "arrays and objects nest deeper than " + std::to_string(kMaxDepth) +
           " levels (the limit) at byte " + std::to_string(*at);
  }
  if (auto at = lone_low_surrogate_at(text)) {
    out.SetNull();
    return "a \\u escape of a low surrogate without a high one before it (not a character) "
           "at byte " +
           std::to_string(*at);
  }
  // Bodies must be UTF-8: refuse invalid byte sequences rather than store and echo them.
  out.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (out.HasParseError()) {
    return std::string(rapidjson::GetParseError_En(out.GetParseError())) + " at byte " +
           std::to_string(out.GetErrorOffset());
  }
  return std::nullopt;
}

std::string to_string(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

namespace {
void write_canonical(Writer& w, const rapidjson::Value& v) {
  if (v.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) members.push_back(&*it);
    std::sort(members.begin(), members.end(), [](auto* a, auto* b) {
      return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
             std::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      write_canonical(w, m->value);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) write_canonical(w, e);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}
}  // namespace

namespace {

// The target of a local "$ref" ("#...") of object `v`, read as RapidJSON's schema reader reads
// it; null when `v` has none (or it names nothing).
const rapidjson::Value* local_ref_target(const rapidjson::Value& v, const rapidjson::Value& root,
                                         std::string* ref) {
  auto it = v.FindMember("$ref");
  if (it == v.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0 ||
      it->value.GetString()[0] != '#')
    return nullptr;
  *ref = std::string(it->value.GetString(), it->value.GetStringLength());
  rapidjson::Pointer pointer(it->value.GetString(), it->value.GetStringLength());
  return pointer.IsValid() ? pointer.Get(root) : nullptr;
}

// A "$ref" for a message: at most ~100 bytes, not cut inside a UTF-8 sequence.
std::string quote_ref(const std::string& ref) {
  size_t n = std::min<size_t>(ref.size(), 100);
  while (n > 0 && n < ref.size() && (static_cast<unsigned char>(ref[n]) & 0xC0) == 0x80) --n;
  return "\"" + ref.substr(0, n) + (n < ref.size() ? "...\"" : "\"");
}

// True if regular expression `re` has an empty alternative or group ("a||b", "(|a)", "a|",
// "()"), or a repetition count above kMaxRegexRepeat: RapidJSON 1.1's regex compiler then pops
// operands that are not there and reads before its stack (heap-buffer-overflow under ASan; found by
// the descriptor fuzzer with a plugin schema's "pattern"). Character classes and escapes are
// skipped.
constexpr unsigned long kMaxRegexRepeat = 1000;

bool empty_alternative(std::string_view re) {
  bool start = true;  // at the start of the pattern, of a group or of an alternative
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\') {
      ++i;
    } else if (c == '[') {
      while (i + 1 < re.size() && re[i + 1] != ']') i += re[i + 1] == '\\' ? 2 : 1;
      ++i;
    } else if (c == '{') {
      // RapidJSON 1.1 expands a counted repetition by copying its operand that many times:
      // "x{323372036855}" ran for ever (a timeout of the descriptor fuzzer). Bound the counts.
      unsigned long count = 0;
      for (size_t j = i + 1;
           j < re.size() && (std::isdigit(static_cast<unsigned char>(re[j])) || re[j] == ',');
           ++j) {
        count = re[j] == ',' ? 0 : std::min(count * 10 + (re[j] - '0'), 1000000ul);
        if (count > kMaxRegexRepeat) return true;
      }
    } else if ((c == '|' || c == ')') && start) {
      return true;
    } else if (c == '|' && i + 1 == re.size()) {
      return true;
    }
    start = c == '(' || c == '|';
  }
  return false;
}

// RapidJSON 1.1's SchemaDocument follows a local "$ref" whose target is itself a "$ref" by
// recursion, without noticing a cycle ({"$ref": "#"}, or two definitions naming each other
// overflowed the stack of whichever thread read the schema: a reload took the host down), and
// reads a target that is not an object as if it were one (with asserts compiled out, garbage
// pointers). Found by tests/fuzz/plugin_descriptor_fuzzer.cpp. Returns why such a schema is
// refused. Recursion here is bounded by kMaxDepth (parse() refused deeper text).
std::optional<std::string> ref_problem(const rapidjson::Value& v, const rapidjson::Value& root) {
  if (v.IsObject()) {
    std::vector<const rapidjson::Value*> chain{&v};
    std::string ref;
    for (const rapidjson::Value* at = local_ref_target(v, root, &ref); at;
         at = local_ref_target(*at, root, &ref)) {
      if (!at->IsObject()) return "\"$ref\": " + quote_ref(ref) + " does not name a schema object";
      if (std::find(chain.begin(), chain.end(), at) != chain.end())
        return "\"$ref\": " + quote_ref(ref) + " leads back to itself through references only";
      chain.push_back(at);
    }
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (name == "pattern" && it->value.IsString() &&
          empty_alternative({it->value.GetString(), it->value.GetStringLength()}))
        return "\"pattern\": " + quote_ref(it->value.GetString()) +
               " has an empty alternative or group, or a repetition count above 1000";
      if (name == "patternProperties" && it->value.IsObject())
        for (auto p = it->value.MemberBegin(); p != it->value.MemberEnd(); ++p)
          if (empty_alternative({p->name.GetString(), p->name.GetStringLength()}))
            return "\"patternProperties\": " + quote_ref(p->name.GetString()) +
                   " has an empty alternative or group, or a repetition count above 1000";
      if (auto problem = ref_problem(it->value, root)) return problem;
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray())
      if (auto problem = ref_problem(e, root)) return problem;
  }
  return std::nullopt;
}

}  // namespace

Schema::Schema(std::string_view text) {
  if (auto err = parse(text, json))
    throw std::invalid_argument("schema is not valid JSON: " + *err);
  if (auto problem = ref_problem(json, json)) throw std::invalid_argument("schema: " + *problem);
  doc = std::make_unique<rapidjson::SchemaDocument>(json);
}

std::optional<std::string> validate(const Schema& schema, const rapidjson::Value& value) {
  rapidjson::SchemaValidator v(*schema.doc);
  if (value.Accept(v)) return std::nullopt;
  rapidjson::StringBuffer doc_ptr;
  v.GetInvalidDocumentPointer().StringifyUriFragment(doc_ptr);
  std::string pointer = doc_ptr.GetString();
  if (!pointer.empty() && pointer[0] == '#') pointer.erase(0, 1);
  const std::string keyword = v.GetInvalidSchemaKeyword();
  std::string detail;
  // RapidJSON 1.1 reports the enclosing object for a missing or unexpected member: find the
  // member by comparing the object with the failing schema, so the message can name it.
  const rapidjson::Value* at = v.GetInvalidDocumentPointer().Get(value);
  const rapidjson::Value* rule = v.GetInvalidSchemaPointer().Get(schema.json);
  if (at && at->IsObject() && rule && rule->IsObject()) {
    if (keyword == "required" && rule->HasMember("required") && (*rule)["required"].IsArray()) {
      for (const auto& name : (*rule)["required"].GetArray()) {
        if (name.IsString() && !at->HasMember(name)) {
          pointer += std::string("/") + name.GetString();
          detail = ": the member is missing";
          break;
        }
      }
    } else if (keyword == "additionalProperties") {
      const rapidjson::Value* props =
          rule->HasMember("properties") ? &(*rule)["properties"] : nullptr;
      for (auto it = at->MemberBegin(); it != at->MemberEnd(); ++it) {
        if (!props || !props->IsObject() || !props->HasMember(it->name)) {
          pointer += std::string("/") + it->name.GetString();
          detail = ": unknown member";
          break;
        }
      }
    }
  }
  if (detail.empty() && keyword == "additionalProperties") detail = ": unknown member";
  return (pointer.empty() ? std::string("/") : pointer) + " violates \"" + keyword + "\"" + detail;
}

std::string canonical(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  write_canonical(w, v);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace lakehost::json
