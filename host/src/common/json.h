// Small RapidJSON helpers shared by the host: parsing with readable errors, serialising, and
// typed field access that reports the JSON pointer of a bad field.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace lakehost::json {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// How deeply arrays and objects may nest in any JSON the host parses (bodies, manifests, stored
// settings and metadata). RapidJSON's parser, writer, copy and comparison all recurse once per
// level, so an unbounded depth lets one small request overflow a thread's stack.
inline constexpr unsigned kMaxDepth = 512;

// Parses `text`; on failure returns a message with the byte offset, else nullopt. Text nested
// deeper than kMaxDepth is refused before RapidJSON sees it, with a message naming the limit.
std::optional<std::string> parse(std::string_view text, rapidjson::Document& out);

// The byte offset of the bracket that opens level max_depth + 1, if `text` nests that deep.
std::optional<size_t> too_deep_at(std::string_view text, unsigned max_depth = kMaxDepth);

std::string to_string(const rapidjson::Value& v);

// True if `s` is valid UTF-8 without NUL bytes: what every storage backend can keep as text
// (PostgreSQL's text type refuses the rest), and what may be echoed inside a JSON message.
bool is_clean_text(std::string_view s);

// `s` with every byte that does not start a valid UTF-8 sequence replaced by '?': for error
// messages, which quote what a client sent (a path parameter is percent-decoded to any bytes)
// and must stay valid JSON. Found by the route fuzzer ("collection name \"c\xff...\"").
std::string valid_utf8(std::string_view s);

inline void put(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
inline void key(Writer& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
// Writes already-serialised JSON (trusted: produced or validated by us) as a value.
inline void raw(Writer& w, std::string_view json) {
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

// Validates `value` against `schema`; on failure a message "<json pointer> violates
// \"<keyword>\"[: detail]" naming the bad field, else nullopt.
struct Schema {
  explicit Schema(std::string_view text);  // throws std::invalid_argument on bad JSON
  rapidjson::Document json;
  std::unique_ptr<rapidjson::SchemaDocument> doc;
  // RapidJSON 1.1 matches a "pattern" with a regex object of the schema that keeps its search
  // state in itself: two validations against one schema at once race (TSan saw the API key
  // file validated by SIGHUP and by a reload together). validate() holds this.
  mutable std::mutex validating;
};
std::optional<std::string> validate(const Schema& schema, const rapidjson::Value& value);

// Fills in what a JSON Schema's `default`s say for members `value` lacks: for each entry of
// "properties" (at the top and, recursively, inside object members present or defaulted) that
// has a "default" and is missing from `value`, a copy of the default is added. Only
// "properties" is followed ("$ref", "allOf" and the like are not), which is what plugin config
// schemas use. Objects without a default are not created.
void apply_defaults(const rapidjson::Value& schema, rapidjson::Value& value,
                    rapidjson::Document::AllocatorType& allocator);

// Canonical text of a JSON value (object keys sorted), so equal configs compare equal.
std::string canonical(const rapidjson::Value& v);

}  // namespace lakehost::json
