// lakehost/config.hpp: typed reads of a plugin's config, each failure naming the member.
#include <gtest/gtest.h>
#include <lakehost/config.hpp>

#include <string>

namespace {

// The message of the lakehost::Error that fn throws, or "" if it throws none.
template <typename Fn>
std::string refusal(Fn&& fn) {
  try {
    fn();
  } catch (const lakehost::Error& e) {
    EXPECT_EQ(e.status(), LH_ERR_INVALID_ARGUMENT);
    return e.what();
  }
  return "";
}

TEST(SdkConfig, ReadsEveryTypeAndNestedObjects) {
  const lakehost::Config c(
      R"({"s": "x", "n": 7, "f": 0.25, "b": true, "list": ["a", "b"], "inner": {"m": 2}})");
  EXPECT_EQ(c.string("s"), "x");
  EXPECT_EQ(c.integer("n"), 7);
  EXPECT_EQ(c.integer("n", 1, 10), 7);
  EXPECT_DOUBLE_EQ(c.number("f"), 0.25);
  EXPECT_DOUBLE_EQ(c.number("n"), 7.0);  // an integer is a number too
  EXPECT_TRUE(c.boolean("b"));
  EXPECT_EQ(c.strings("list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.object("inner").integer("m"), 2);
  EXPECT_TRUE(c.has("s"));
  EXPECT_FALSE(c.has("absent"));
  EXPECT_EQ(c.optional_string("absent"), std::nullopt);
  EXPECT_EQ(lakehost::Config("").has("x"), false);  // no config reads as {}
}

TEST(SdkConfig, RefusalsNameTheMemberAndWhatWasExpected) {
  const lakehost::Config c(R"({"s": 1, "n": 3.5, "r": 50, "inner": {"m": "two"}})");
  EXPECT_EQ(refusal([&] { c.string("absent"); }),
            "config \"absent\" is missing (expected a string)");
  EXPECT_EQ(refusal([&] { c.string("s"); }), "config \"s\" must be a string");
  EXPECT_EQ(refusal([&] { c.integer("n"); }), "config \"n\" must be an integer");
  EXPECT_EQ(refusal([&] { c.integer("r", 1, 10); }), "config \"r\" must be an integer in 1..10");
  EXPECT_EQ(refusal([&] { c.object("inner").integer("m"); }),
            "config \"inner/m\" must be an integer");
  EXPECT_EQ(refusal([] { lakehost::Config("[1]"); }), "config must be a JSON object");
}

}  // namespace
