// lakehost/config.hpp — optional, header-only: typed reads of a plugin's config in its
// constructor (create()).
//
// Since ABI 1.3 the host hands create() the manifest's `config` only after it passed the
// plugin's JSON schema, and with every `default` that schema declares filled in (at the top
// level and inside nested objects). So a plugin reads its values and never restates a default
// in code: the schema is the one place where defaults live.
//
//   lakehost::Config config(config_json);
//   const std::string factory = config.string("factory");
//   const int ef = static_cast<int>(config.integer("ef_search"));
//
// Each getter throws lakehost::Error(LH_ERR_INVALID_ARGUMENT) naming the member when it is
// absent or of another type: that only happens to a plugin created without the host's checks
// (a unit test calling the class directly, or a member the schema leaves without a default).
// Needs RapidJSON (Debian: rapidjson-dev), like http_client.hpp.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin.hpp"

namespace lakehost {

class Config {
 public:
  // Parses the config text create() received ("" reads as {}).
  explicit Config(std::string_view json) : doc_(std::make_shared<rapidjson::Document>()) {
    if (json.empty()) json = "{}";
    doc_->Parse(json.data(), json.size());
    if (doc_->HasParseError() || !doc_->IsObject())
      throw Error(LH_ERR_INVALID_ARGUMENT, "config must be a JSON object");
    value_ = doc_.get();
  }

  bool has(std::string_view name) const { return find(name) != nullptr; }

  std::string string(std::string_view name) const {
    const auto& v = get(name, "a string");
    if (!v.IsString()) throw wrong(name, "a string");
    return {v.GetString(), v.GetStringLength()};
  }
  std::optional<std::string> optional_string(std::string_view name) const {
    if (!has(name)) return std::nullopt;
    return string(name);
  }
  int64_t integer(std::string_view name) const {
    const auto& v = get(name, "an integer");
    if (!v.IsInt64()) throw wrong(name, "an integer");
    return v.GetInt64();
  }
  // The same, refused outside [min, max] (the schema's limits, for plugins that must not reach
  // a library with nonsense even when created without the host's checks).
  int64_t integer(std::string_view name, int64_t min, int64_t max) const {
    const int64_t n = integer(name);
    if (n < min || n > max)
      throw wrong(name,
                  ("an integer in " + std::to_string(min) + ".." + std::to_string(max)).c_str());
    return n;
  }
  double number(std::string_view name) const {
    const auto& v = get(name, "a number");
    if (!v.IsNumber()) throw wrong(name, "a number");
    return v.GetDouble();
  }
  bool boolean(std::string_view name) const {
    const auto& v = get(name, "true or false");
    if (!v.IsBool()) throw wrong(name, "true or false");
    return v.GetBool();
  }
  std::vector<std::string> strings(std::string_view name) const {
    const auto& v = get(name, "an array of strings");
    if (!v.IsArray()) throw wrong(name, "an array of strings");
    std::vector<std::string> out;
    for (const auto& s : v.GetArray()) {
      if (!s.IsString()) throw wrong(name, "an array of strings");
      out.emplace_back(s.GetString(), s.GetStringLength());
    }
    return out;
  }
  // A nested object member, read the same way; its member names are reported as "outer/inner".
  Config object(std::string_view name) const {
    const auto& v = get(name, "an object");
    if (!v.IsObject()) throw wrong(name, "an object");
    return Config(doc_, &v, path(name) + "/");
  }
  // The whole object, for what the getters do not cover.
  const rapidjson::Value& json() const { return *value_; }

 private:
  Config(std::shared_ptr<rapidjson::Document> doc, const rapidjson::Value* value,
         std::string prefix)
      : doc_(std::move(doc)), value_(value), prefix_(std::move(prefix)) {}

  const rapidjson::Value* find(std::string_view name) const {
    const auto m = value_->FindMember(rapidjson::Value(
        rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
    return m == value_->MemberEnd() ? nullptr : &m->value;
  }
  const rapidjson::Value& get(std::string_view name, const char* expected) const {
    if (const auto* v = find(name)) return *v;
    throw Error(LH_ERR_INVALID_ARGUMENT,
                "config \"" + path(name) + "\" is missing (expected " + expected + ")");
  }
  std::string path(std::string_view name) const { return prefix_ + std::string(name); }
  Error wrong(std::string_view name, const char* expected) const {
    return Error(LH_ERR_INVALID_ARGUMENT, "config \"" + path(name) + "\" must be " + expected);
  }

  std::shared_ptr<rapidjson::Document> doc_;  // shared by nested views
  const rapidjson::Value* value_ = nullptr;
  std::string prefix_;
};

}  // namespace lakehost
