// json_util: json::Schema refuses the "$ref" shapes RapidJSON 1.1's schema reader cannot survive
// (found by tests/fuzz/plugin_descriptor_fuzzer.cpp; each input is also in its corpus), and keeps
// accepting recursive schemas that are fine.
#include <gtest/gtest.h>

#include <cstring>

#include "json_util.h"

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

// RapidJSON 1.1's regex compiler reads before its stack on an empty alternative or group, so a
// schema with one is refused; ordinary patterns still work.
TEST(JsonSchema, RefusesPatternsWithAnEmptyAlternative) {
  for (const char* re : {"a||b", "(|a)", "a|", "|a", "()", "$Zp?(||:^^", "x{1001}", "x{2,99999}"}) {
    const std::string schema = std::string(R"({"type": "string", "pattern": ")") + re + "\"}";
    EXPECT_NE(refusal(schema).find("empty alternative"), std::string::npos) << re;
  }
  EXPECT_NE(refusal(R"j({"patternProperties": {"a(|b)": {}}})j").find("empty alternative"),
            std::string::npos);
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
