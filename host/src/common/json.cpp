#include "common/json.h"

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
  // Not kParseFullPrecisionFlag: RapidJSON 1.1's full-precision path passes 0 to clz() for a
  // zero written with many digits and an exponent (UB; descriptor fuzzer). The fast path may be
  // 1 ulp off for numbers of more than 17 digits (docs/fuzzing.md, open finding).
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

// RapidJSON 1.1's regex compiler ("pattern", "patternProperties") trusts its input: a
// repetition without an operand ("(+)"), an empty alternative or group ("a||b", "()"), or an
// unbalanced ")" makes it pop operands that are not there and read before its stack
// (heap-buffer-overflow under ASan), and "x{323372036855}" copies its operand that many times
// (a hang). All found by the descriptor fuzzer through a plugin's config schema. So a pattern
// must be well formed in the syntax RapidJSON documents (internal/regex.h), with bounded
// repetitions; anything else is refused before RapidJSON sees it. Returns why, or "".
class RegexCheck {
 public:
  explicit RegexCheck(std::string_view re) : re_(re) {}
  std::string run() {
    if (re_.size() > kMaxLength) return "is longer than " + std::to_string(kMaxLength) + " bytes";
    double states = 0;
    if (alternation(states) && at_ < re_.size()) fail("an unbalanced \")\"");
    if (error_.empty() && states > kMaxStates)
      return "expands to more than " + std::to_string(kMaxStates) + " states";
    return error_;
  }

 private:
  static constexpr size_t kMaxLength = 4096, kMaxDepth = 32;
  static constexpr unsigned long kMaxRepeat = 1000;
  static constexpr double kMaxStates = 100000;

  bool fail(const std::string& why) {
    if (error_.empty()) error_ = "has " + why + " at byte " + std::to_string(at_);
    return false;
  }
  bool more() const { return at_ < re_.size(); }
  bool alternation(double& states) {
    for (;;) {
      double s = 0;
      if (!concatenation(s)) return false;
      states += s;
      if (!more() || re_[at_] != '|') return true;
      ++at_;
    }
  }
  bool concatenation(double& states) {
    size_t atoms = 0;
    while (more() && re_[at_] != '|' && re_[at_] != ')') {
      const char c = re_[at_];
      if (c == '^' || c == '$') {  // anchors: zero-width, no operand
        ++at_;
        continue;
      }
      if (c == '*' || c == '+' || c == '?' || c == '{')
        return fail("a repetition without an operand");
      double s = 1;
      if (!atom(s) || !repetitions(s)) return false;
      states += s;
      ++atoms;
    }
    return atoms > 0 || fail("an empty alternative or group");
  }
  bool atom(double& s) {
    const char c = re_[at_];
    if (c == '(') {
      if (++depth_ > kMaxDepth) return fail("groups nested deeper than 32");
      ++at_;
      s = 0;
      if (!alternation(s)) return false;
      if (!more() || re_[at_] != ')') return fail("an unclosed \"(\"");
      ++at_;
      --depth_;
      return true;
    }
    if (c == '[') return char_class();
    if (c == '\\') return escape("^$|()?*+.[]{}\\/-fnrtv");
    // A literal (all bytes of one UTF-8 character) or ".".
    ++at_;
    while (more() && (static_cast<unsigned char>(re_[at_]) & 0xC0) == 0x80) ++at_;
    return true;
  }
  bool escape(std::string_view allowed) {
    if (at_ + 1 >= re_.size() || allowed.find(re_[at_ + 1]) == std::string_view::npos)
      return fail("an escape RapidJSON does not know");
    at_ += 2;
    return true;
  }
  bool char_class() {
    ++at_;
    if (more() && re_[at_] == '^') ++at_;
    size_t items = 0;
    while (more() && re_[at_] != ']') {
      if (re_[at_] == '\\') {
        if (!escape("^$|()?*+.[]{}\\/-fnrtvb")) return false;
      } else {
        ++at_;
        while (more() && (static_cast<unsigned char>(re_[at_]) & 0xC0) == 0x80) ++at_;
      }
      ++items;
    }
    if (!more()) return fail("an unclosed \"[\"");
    ++at_;
    return items > 0 || fail("an empty character class");
  }
  // Any number of *, +, ? and {n}, {n,}, {n,m} after an operand; a count copies the operand.
  bool repetitions(double& s) {
    while (more()) {
      const char c = re_[at_];
      if (c == '*' || c == '+' || c == '?') {
        ++at_;
        s += 1;
        continue;
      }
      if (c != '{') return true;
      ++at_;
      unsigned long n = 0, m = 0;
      if (!number(n)) return fail("a malformed {n,m}");
      m = n;
      if (more() && re_[at_] == ',') {
        ++at_;
        m = n + 1;  // {n,}: n copies and a star
        if (more() && re_[at_] != '}' && !number(m)) return fail("a malformed {n,m}");
      }
      if (!more() || re_[at_] != '}') return fail("a malformed {n,m}");
      ++at_;
      if (n > kMaxRepeat || m > kMaxRepeat + 1)
        return fail("a repetition count above " + std::to_string(kMaxRepeat));
      if (m < n) return fail("a repetition {n,m} with m < n");
      s *= static_cast<double>(std::max<unsigned long>(m, 1));
      if (s > kMaxStates) return fail("repetitions that expand past " + std::to_string(kMaxStates));
    }
    return true;
  }
  bool number(unsigned long& out) {
    size_t digits = 0;
    out = 0;
    while (more() && std::isdigit(static_cast<unsigned char>(re_[at_]))) {
      out = std::min(out * 10 + static_cast<unsigned long>(re_[at_] - '0'), 1000000ul);
      ++at_;
      ++digits;
    }
    return digits > 0;
  }

  std::string_view re_;
  size_t at_ = 0, depth_ = 0;
  std::string error_;
};

std::string regex_problem(std::string_view re) { return RegexCheck(re).run(); }

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
      if (name == "pattern" && it->value.IsString())
        if (auto why = regex_problem({it->value.GetString(), it->value.GetStringLength()});
            !why.empty())
          return "\"pattern\": " + quote_ref(it->value.GetString()) + " " + why;
      if (name == "patternProperties" && it->value.IsObject())
        for (auto p = it->value.MemberBegin(); p != it->value.MemberEnd(); ++p)
          if (auto why = regex_problem({p->name.GetString(), p->name.GetStringLength()});
              !why.empty())
            return "\"patternProperties\": " + quote_ref(p->name.GetString()) + " " + why;
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

namespace {

// The JSON type of a value as JSON Schema names it.
std::string type_name(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kNumberType:
      break;
  }
  return v.IsInt64() || v.IsUint64() ? "integer" : "number";
}

// A value quoted in an error message, shortened: it may be large and comes from the client.
std::string quoted(const rapidjson::Value& v) {
  std::string text = canonical(v);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// What the failing rule expected and what the value is, e.g. ": expected integer, got string"
// or ": must be >= 1, got 0". Empty for keywords without a short explanation.
std::string expectation(const std::string& keyword, const rapidjson::Value& rule,
                        const rapidjson::Value& at) {
  const auto member = [&](const char* name) -> const rapidjson::Value* {
    auto it = rule.FindMember(name);
    return it == rule.MemberEnd() ? nullptr : &it->value;
  };
  const auto is_true = [&](const char* name) {
    const rapidjson::Value* v = member(name);
    return v && v->IsBool() && v->GetBool();
  };
  const rapidjson::Value* limit = member(keyword.c_str());
  if (keyword == "type" && limit) {
    std::string expected;
    if (limit->IsString()) {
      expected = limit->GetString();
    } else if (limit->IsArray()) {
      for (const auto& t : limit->GetArray())
        if (t.IsString()) expected += (expected.empty() ? "" : " or ") + std::string(t.GetString());
    }
    return ": expected " + expected + ", got " + type_name(at);
  }
  if ((keyword == "minimum" || keyword == "maximum") && limit && at.IsNumber()) {
    const bool min = keyword == "minimum";
    const bool exclusive = is_true(min ? "exclusiveMinimum" : "exclusiveMaximum");
    return std::string(": must be ") + (min ? ">" : "<") + (exclusive ? "" : "=") + " " +
           quoted(*limit) + ", got " + quoted(at);
  }
  if (keyword == "multipleOf" && limit) return ": must be a multiple of " + quoted(*limit);
  if ((keyword == "minLength" || keyword == "maxLength") && limit && at.IsString()) {
    size_t chars = 0;  // code points, as the validator counts them
    for (size_t i = 0; i < at.GetStringLength(); ++i)
      chars += (static_cast<unsigned char>(at.GetString()[i]) & 0xC0) != 0x80;
    return std::string(": length must be ") + (keyword == "minLength" ? ">= " : "<= ") +
           quoted(*limit) + " characters, got " + std::to_string(chars);
  }
  if ((keyword == "minItems" || keyword == "maxItems") && limit && at.IsArray()) {
    return std::string(": must have ") + (keyword == "minItems" ? "at least " : "at most ") +
           quoted(*limit) + " items, got " + std::to_string(at.Size());
  }
  if ((keyword == "minProperties" || keyword == "maxProperties") && limit && at.IsObject()) {
    return std::string(": must have ") + (keyword == "minProperties" ? "at least " : "at most ") +
           quoted(*limit) + " members, got " + std::to_string(at.MemberCount());
  }
  if (keyword == "enum" && limit)
    return ": must be one of " + quoted(*limit) + ", got " + quoted(at);
  if (keyword == "pattern" && limit)
    return ": must match " + quoted(*limit) + ", got " + quoted(at);
  if (keyword == "uniqueItems") return ": items must be unique";
  return "";
}

}  // namespace

std::optional<std::string> validate(const Schema& schema, const rapidjson::Value& value) {
  std::lock_guard lock(schema.validating);
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
  if (detail.empty() && at && rule && rule->IsObject()) detail = expectation(keyword, *rule, *at);
  return (pointer.empty() ? std::string("/") : pointer) + " violates \"" + keyword + "\"" + detail;
}

namespace {
void apply_defaults_at(const rapidjson::Value& schema, rapidjson::Value& value,
                       rapidjson::Document::AllocatorType& a, int depth) {
  // json::parse bounds nesting at 512; a schema deeper than this has no sensible defaults.
  if (depth > 64 || !schema.IsObject() || !value.IsObject()) return;
  const auto props = schema.FindMember("properties");
  if (props == schema.MemberEnd() || !props->value.IsObject()) return;
  for (const auto& p : props->value.GetObject()) {
    if (!p.value.IsObject()) continue;
    auto have = value.FindMember(p.name);
    if (have == value.MemberEnd()) {
      const auto def = p.value.FindMember("default");
      if (def == p.value.MemberEnd()) continue;
      value.AddMember(rapidjson::Value(p.name, a), rapidjson::Value(def->value, a), a);
      have = value.FindMember(p.name);
    }
    apply_defaults_at(p.value, have->value, a, depth + 1);
  }
}
}  // namespace

void apply_defaults(const rapidjson::Value& schema, rapidjson::Value& value,
                    rapidjson::Document::AllocatorType& allocator) {
  apply_defaults_at(schema, value, allocator, 0);
}

std::string canonical(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  write_canonical(w, v);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace lakehost::json
