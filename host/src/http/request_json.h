// Reading JSON request bodies and writing JSON responses, shared by the route files: every
// failure is an HostError naming the offending field by its JSON pointer.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include <optional>
#include <string>

#include "common/json.h"
#include "http/errors.h"
#include "http/server.h"

namespace lakehost {

inline HttpResponse ok_json(const rapidjson::StringBuffer& buf, int status = 200) {
  return {status, std::string(buf.GetString(), buf.GetSize()), "application/json"};
}

// Parses the body as a JSON object (an empty body counts as {} when allowed).
inline rapidjson::Document parse_body(const HttpRequest& req, bool allow_empty = false) {
  rapidjson::Document d;
  const std::string& body = *req.body;
  if (allow_empty && body.find_first_not_of(" \t\r\n") == std::string::npos) {
    d.SetObject();
    return d;
  }
  if (auto err = json::parse(body, d))
    throw HostError(Errc::bad_request, "malformed_json", "body: " + *err);
  if (!d.IsObject()) throw bad_request("body must be a JSON object");
  return d;
}

// The member `name`, or nullptr when it is absent or null.
inline const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

inline std::optional<std::string> opt_string(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = member(obj, name);
  if (!v) return std::nullopt;
  if (!v->IsString()) throw bad_request(std::string("/") + name + " must be a string");
  return std::string(v->GetString(), v->GetStringLength());
}

}  // namespace lakehost
