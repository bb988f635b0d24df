// json_util: json::Schema refuses the "$ref" shapes RapidJSON 1.1's schema reader cannot survive
// (found by tests/fuzz/plugin_descriptor_fuzzer.cpp; each input is also in its corpus), and keeps
// accepting recursive schemas that are fine.
#include <gtest/gtest.h>

#include <cstring>

#include "common/json.h"

using lakehost::json::Schema;

namespace {

std::string refusal(const std::string& text) {
  try {
    Schema s(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(JsonSchema, RefusesAReferenceToItself) {
  EXPECT_NE(refusal(R"({"$ref": "#"})").find("leads back to itself"), std::string::npos);
  EXPECT_NE(refusal(R"({"definitions": {"a": {"$ref": "#/definitions/b"},
                                        "b": {"$ref": "#/definitions/a"}},
                       "properties": {"x": {"$ref": "#/definitions/a"}}})")
                .find("leads back to itself"),
            std::string::npos);
}

TEST(JsonSchema, RefusesAReferenceToANonObject) {
  EXPECT_NE(refusal(R"({"$ref": "#/a", "a": 5})").find("does not name a schema object"),
            std::string::npos);
}

TEST(JsonSchema, AcceptsRecursiveSchemasThroughProperties) {
  Schema s(R"({"type": "object", "properties": {"child": {"$ref": "#"}}})");
  rapidjson::Document ok, bad;
  ok.Parse(R"({"child": {"child": {}}})");
  bad.Parse(R"({"child": {"child": 1}})");
  EXPECT_FALSE(lakehost::json::validate(s, ok));
  EXPECT_TRUE(lakehost::json::validate(s, bad));
}

// A text ending inside a UTF-8 sequence is not clean, and is judged without reading past its end
// (the ASan build of this test and the descriptor fuzzer's corpus both check that).
TEST(JsonCleanText, TruncatedSequenceAtTheEnd) {
  for (const std::string s : {"abc\xe0", "abc\xf0\x9f", "\xf0\x9f\x98", "\xc3"}) {
    auto* heap = new char[s.size()];  // exactly the text: an overread is outside the allocation
    std::memcpy(heap, s.data(), s.size());
    EXPECT_FALSE(lakehost::json::is_clean_text({heap, s.size()}));
    delete[] heap;
  }
  EXPECT_TRUE(lakehost::json::is_clean_text("caf\xc3\xa9 \xf0\x9f\x98\x80"));
}

// Error messages quote client bytes: valid_utf8 keeps valid sequences and replaces each byte
// that does not start one, so the envelope stays JSON.
TEST(JsonValidUtf8, ReplacesOnlyInvalidBytes) {
  using lakehost::json::valid_utf8;
  EXPECT_EQ(valid_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(valid_utf8("c\xff\xfe_"), "c??_");
  EXPECT_EQ(valid_utf8("\xe0\x80\x80"), "???");      // overlong
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), "???");      // surrogate
  EXPECT_EQ(valid_utf8("ab\xf0\x9f\x98"), "ab???");  // truncated at the end
  EXPECT_TRUE(lakehost::json::is_clean_text(valid_utf8("\xc3\x28\xa0\xa1\xf8")));
}

// RapidJSON 1.1's regex compiler reads before its stack on a malformed pattern, and copies a
// counted repetition's operand that many times, so such schemas are refused with the reason;
// ordinary patterns still work.
TEST(JsonSchema, RefusesPatternsRapidJsonCannotCompileSafely) {
  const std::pair<const char*, const char*> cases[] = {
      {"a||b", "empty alternative"},
      {"(|a)", "empty alternative"},
      {"a|", "empty alternative"},
      {"|a", "empty alternative"},
      {"()", "empty alternative"},
      {"$Zp?(||:^^", "empty alternative"},
      {"x{1001}", "repetition count above 1000"},
      {"x{2,99999}", "repetition count above 1000"},
      {"(x{1000}){1000}", "expand past"},
      {"x{5,2}", "m < n"},
      {"x{,2}", "malformed {n,m}"},
      {"x{3", "malformed {n,m}"},
      {"$Ztypd19e(+)s72036855)75$0l[^-y&", "repetition without an operand"},  // the fuzzer's
      {"ab)c", "unbalanced"},
      {"(ab", "unclosed \"(\""},
      {"[ab", "unclosed \"[\""},
      {"[]", "empty character class"},
      {"^*a", "repetition without an operand"},
      {"a\\\\q", "escape"},
      {"((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))", "deeper"},
  };
  for (const auto& [re, why] : cases) {
    const std::string schema = std::string(R"({"type": "string", "pattern": ")") + re + "\"}";
    const std::string r = refusal(schema);
    EXPECT_NE(r.find("\"pattern\""), std::string::npos) << re << ": " << r;
    EXPECT_NE(r.find(why), std::string::npos) << re << ": " << r;
  }
  EXPECT_NE(refusal(R"j({"patternProperties": {"a(|b)": {}}})j").find("empty alternative"),
            std::string::npos);
  for (const char* re : {"^[A-Za-z0-9_-]{1,64}$", "^[0-9a-fA-F]{64}$", "a+?b*c?", "x{3,}",
                         "^(a|b)[^\\\\]x]\\\\.$", "\u00e9t\u00e9+", "a{0}"})
    EXPECT_NO_THROW(Schema(std::string(R"({"type": "string", "pattern": ")") + re + "\"}")) << re;
  Schema s(R"({"type": "string", "pattern": "^(FULL|NORMAL)$|^[|(]x$"})");
  rapidjson::Document ok, bad;
  ok.Parse(R"("NORMAL")");
  bad.Parse(R"("OFF")");
  EXPECT_FALSE(lakehost::json::validate(s, ok));
  EXPECT_TRUE(lakehost::json::validate(s, bad));
}

// A lone low-surrogate escape would decode to bytes that are not UTF-8: refused; a pair is fine.
TEST(JsonParse, RefusesALoneLowSurrogateEscape) {
  rapidjson::Document d;
  EXPECT_TRUE(lakehost::json::parse(R"({"a": "x\udc00y"})", d));
  EXPECT_TRUE(lakehost::json::parse(R"(["\ud800\\udc00"])", d));
  EXPECT_FALSE(lakehost::json::parse(R"({"a": "\ud83d\ude00", "b": "\\udc00 is text"})", d));
}

// A violation names the member, the rule, and what the rule expected against what it got.
TEST(JsonValidate, SaysWhatWasExpectedAndWhatCame) {
  Schema s(R"({"type": "object", "properties": {
      "dimension": {"type": "integer", "minimum": 1, "maximum": 4096},
      "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
      "name": {"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[a-z]+$"},
      "metric": {"enum": ["cosine", "l2"]},
      "tags": {"type": "array", "maxItems": 1},
      "either": {"type": ["string", "null"]}}})");
  const auto violation = [&](const char* text) {
    rapidjson::Document d;
    d.Parse(text);
    auto err = lakehost::json::validate(s, d);
    return err ? *err : std::string("(valid)");
  };
  EXPECT_EQ(violation(R"({"dimension": "big"})"),
            "/dimension violates \"type\": expected integer, got string");
  EXPECT_EQ(violation(R"({"dimension": 0})"),
            "/dimension violates \"minimum\": must be >= 1, got 0");
  EXPECT_EQ(violation(R"({"dimension": 5000})"),
            "/dimension violates \"maximum\": must be <= 4096, got 5000");
  EXPECT_EQ(violation(R"({"ratio": 0})"), "/ratio violates \"minimum\": must be > 0, got 0");
  EXPECT_EQ(violation(R"({"name": "é"})"),
            "/name violates \"minLength\": length must be >= 2 characters, got 1");
  EXPECT_EQ(violation(R"({"name": "abcd"})"),
            "/name violates \"maxLength\": length must be <= 3 characters, got 4");
  EXPECT_EQ(violation(R"({"name": "AB"})"),
            "/name violates \"pattern\": must match \"^[a-z]+$\", got \"AB\"");
  EXPECT_EQ(violation(R"({"metric": "dot"})"),
            "/metric violates \"enum\": must be one of [\"cosine\",\"l2\"], got \"dot\"");
  EXPECT_EQ(violation(R"({"tags": [1, 2]})"),
            "/tags violates \"maxItems\": must have at most 1 items, got 2");
  EXPECT_EQ(violation(R"({"either": 3})"),
            "/either violates \"type\": expected string or null, got integer");
}

// Schema defaults fill what a config lacks, recursively, and never replace what it has.
TEST(JsonApplyDefaults, FillsMissingMembersRecursively) {
  Schema s(R"({"type": "object", "properties": {
      "a": {"type": "integer", "default": 1},
      "b": {"type": "string", "default": "x"},
      "inner": {"type": "object", "default": {}, "properties": {"c": {"default": [1, 2]}}},
      "bare": {"type": "object", "properties": {"d": {"default": true}}},
      "given": {"type": "object", "properties": {"e": {"default": 5}, "f": {"default": 6}}}}})");
  rapidjson::Document config;
  config.Parse(R"({"b": "kept", "given": {"f": 0}})");
  lakehost::json::apply_defaults(s.json, config, config.GetAllocator());
  EXPECT_EQ(lakehost::json::canonical(config),
            R"({"a":1,"b":"kept","given":{"e":5,"f":0},"inner":{"c":[1,2]}})");
  EXPECT_FALSE(lakehost::json::validate(s, config));
}
