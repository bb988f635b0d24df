// Errors of the OpenAI-compatible routes (/v1/embeddings, /v1/chat/completions) in OpenAI's
// error object {"error": {"message", "type", "param", "code"}}. It keeps lakehost's `code` and
// `message` (so it is still lakehost's envelope) and adds what OpenAI's client libraries read
// into their exceptions: `type` and `param`.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <utility>

#include "http/request_json.h"

namespace lakehost::openai {

// OpenAI's `param` for a message that starts with a JSON pointer:
// "/messages/1/content/0/type must ..." -> "messages[1].content[0].type".
inline std::optional<std::string> param_of(std::string_view message) {
  if (message.size() < 2 || message[0] != '/') return std::nullopt;
  size_t end = 1;
  while (end < message.size() && message[end] != ' ' && message[end] != ':') ++end;
  std::string out;
  size_t at = 1;
  while (at < end) {
    size_t next = message.find('/', at);
    if (next == std::string_view::npos || next > end) next = end;
    std::string_view token = message.substr(at, next - at);
    const bool index = !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c));
    });
    if (index && !out.empty())
      out += "[" + std::string(token) + "]";
    else
      out += (out.empty() ? "" : ".") + std::string(token);
    at = next + 1;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// OpenAI's `type`: the client's fault or the server's.
inline const char* type_of(int status) {
  return status >= 500 ? "server_error" : "invalid_request_error";
}

// Writes the {"message", "type", "param", "code"} object.
inline void write_error_object(json::Writer& w, const HostError& e) {
  w.StartObject();
  json::key(w, "message");
  json::put(w, json::valid_utf8(e.what()));  // messages quote client bytes; JSON is UTF-8
  json::key(w, "type");
  json::put(w, type_of(http_status(e)));
  json::key(w, "param");
  if (auto p = param_of(e.what()))
    json::put(w, json::valid_utf8(*p));
  else
    w.Null();
  json::key(w, "code");
  json::put(w, e.code());
  w.EndObject();
}

inline std::string error_json(const HostError& e) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "error");
  write_error_object(w, e);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

template <typename Fn>
HttpResponse answer(std::string_view what, Fn&& fn) {
  try {
    return fn();
  } catch (const HostError& e) {
    return {http_status(e), error_json(e), "application/json"};
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", what, e.what());
    return {500, error_json(HostError(Errc::internal, "internal", e.what())), "application/json"};
  }
}

// Runs a route handler so that its errors, and those of its deferred or streamed part, are
// answered in OpenAI's shape (the HTTP layer would write lakehost's plain envelope).
template <typename Fn>
HttpResponse with_openai_errors(Fn&& handler) {
  HttpResponse r = answer("request", std::forward<Fn>(handler));
  if (r.deferred)
    r.deferred = [inner = std::move(r.deferred)] { return answer("deferred response", inner); };
  if (r.stream)
    r.stream = [inner = std::move(r.stream)](const StreamWrite& write) {
      return answer("streamed response", [&] { return inner(write); });
    };
  return r;
}

}  // namespace lakehost::openai
