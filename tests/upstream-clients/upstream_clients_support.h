// Helpers shared by the upstream-client suites (header-only: tests/CMakeLists.txt compiles only
// upstream-clients/*_test.cpp). Plugins are loaded through the host's real loader
// (plugin_fixture.h) and talk to the fake model servers of tests/upstreams/ (upstream_server.h).
#pragma once

#include <gtest/gtest.h>
#include <lakehost/plugin_api.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "http_client.h"
#include "plugin_fixture.h"
#include "upstream_server.h"

namespace lakehost::upstream_test {

using test::load_plugin;
using test::LoadedPlugin;
using test::UpstreamServer;
using Vector = std::vector<float>;
using Clock = std::chrono::steady_clock;

// ---- JSON -----------------------------------------------------------------------------------

inline std::string jstr(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

inline std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

inline rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError()) throw std::runtime_error("not JSON: " + text.substr(0, 200));
  return d;
}

// A config object from key/value pairs whose values are JSON text:
// config({{"base_url", jstr(url)}, {"dimension", "16"}}).
inline std::string config(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string s = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) s += ", ";
    s += jstr(fields[i].first) + ": " + fields[i].second;
  }
  return s + "}";
}

// ---- what the fake server recorded ----------------------------------------------------------

struct Recorded {
  std::string method, path;
  std::map<std::string, std::string> headers;
  rapidjson::Document body;  // null when the request had none
  double time = 0;           // server's monotonic clock, seconds
};

// The API requests the server received, in order (optionally only those for `path`).
inline std::vector<Recorded> recorded(UpstreamServer& server, const std::string& path = "") {
  const rapidjson::Document d = parse(server.requests());
  std::vector<Recorded> out;
  for (const auto& r : d["requests"].GetArray()) {  // const: see embed-hash on C++20 iterators
    if (!path.empty() && path != r["path"].GetString()) continue;
    Recorded x;
    x.method = r["method"].GetString();
    x.path = r["path"].GetString();
    for (const auto& h : r["headers"].GetObject())
      x.headers[h.name.GetString()] = h.value.GetString();
    x.body.CopyFrom(r["body"], x.body.GetAllocator());
    x.time = r["time"].GetDouble();
    out.push_back(std::move(x));
  }
  return out;
}

// ---- calling the plugins through their C tables ---------------------------------------------

inline std::string load_error(const std::string& plugin, const std::string& config_json) {
  try {
    load_plugin(plugin, config_json);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

struct EmbedResult {
  lh_status status = LH_OK;
  std::string message;
  std::vector<Vector> vectors;
};

inline EmbedResult embed(const LoadedPlugin& p, const std::vector<std::string>& texts) {
  const auto& api = *p.table<lh_embed_provider_v1>();
  const size_t dim = api.dimension(p.self());
  std::vector<lh_str> in;
  for (const auto& t : texts) in.push_back({t.data(), t.size()});
  std::vector<float> out(texts.size() * dim + 1, -7.0f);
  lh_error err{};
  EmbedResult r;
  r.status = api.embed(p.self(), in.data(), in.size(), out.data(), &err);
  EXPECT_EQ(out.back(), -7.0f) << "embed() wrote past n * dimension() floats";
  if (r.status != LH_OK) {
    r.message = err.message;
    return r;
  }
  for (size_t i = 0; i < texts.size(); ++i)
    r.vectors.emplace_back(out.begin() + i * dim, out.begin() + (i + 1) * dim);
  return r;
}

inline double norm(const Vector& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

// The server's raw (unnormalised) vector for each text, asked directly over HTTP, and the same
// divided by its length: what a correct client must return.
inline std::vector<Vector> normalised(const std::vector<std::vector<double>>& raw) {
  std::vector<Vector> out;
  for (const auto& v : raw) {
    double s = 0;
    for (double x : v) s += x * x;
    Vector u;
    for (double x : v) u.push_back(static_cast<float>(x / std::sqrt(s)));
    out.push_back(u);
  }
  return out;
}

inline ::testing::AssertionResult same_vectors(const std::vector<Vector>& a,
                                               const std::vector<Vector>& b, double tol = 1e-6) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " vectors";
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size())
      return ::testing::AssertionFailure()
             << "vector #" << i << ": " << a[i].size() << " vs " << b[i].size() << " floats";
    for (size_t j = 0; j < a[i].size(); ++j) {
      if (std::abs(a[i][j] - b[i][j]) > tol)
        return ::testing::AssertionFailure()
               << "vector #" << i << "[" << j << "]: " << a[i][j] << " vs " << b[i][j];
    }
  }
  return ::testing::AssertionSuccess();
}

struct Message {
  std::string role, content;
};

struct ChatResult {
  lh_status status = LH_OK;
  std::string message;
  std::vector<std::string> deltas;
  uint64_t prompt_tokens = 0, completion_tokens = 0;
  std::string text() const {
    std::string s;
    for (const auto& d : deltas) s += d;
    return s;
  }
};

inline ChatResult chat(const LoadedPlugin& p, const std::vector<Message>& messages,
                       const std::string& model = "", float temperature = -1.0f,
                       int32_t max_tokens = 0) {
  const auto& api = *p.table<lh_chat_provider_v1>();
  std::vector<lh_chat_message> m;
  for (const auto& x : messages)
    m.push_back({{x.role.data(), x.role.size()}, {x.content.data(), x.content.size()}});
  lh_chat_request req{};
  req.struct_size = sizeof req;
  req.messages = m.data();
  req.n_messages = m.size();
  req.model = {model.data(), model.size()};
  req.temperature = temperature;
  req.max_tokens = max_tokens;
  lh_chat_usage usage{};
  usage.struct_size = sizeof usage;
  ChatResult r;
  lh_error err{};
  r.status = api.chat(
      p.self(), &req,
      [](void* ctx, lh_str text) {
        static_cast<ChatResult*>(ctx)->deltas.emplace_back(text.data ? text.data : "", text.size);
      },
      &r, &usage, &err);
  if (r.status != LH_OK) r.message = err.message;
  r.prompt_tokens = usage.prompt_tokens;
  r.completion_tokens = usage.completion_tokens;
  return r;
}

// health() through the descriptor: "" when healthy, else the plugin's message.
inline std::string health(const LoadedPlugin& p) {
  lh_error err{};
  if (!p.descriptor()->health) return "no health()";
  if (p.descriptor()->health(p.self(), &err) == LH_OK) return "";
  return err.message[0] ? err.message : "unhealthy";
}

inline size_t words(const std::string& s) {
  size_t n = 0;
  bool in = false;
  for (char c : s) {
    const bool space = c == ' ' || c == '\t' || c == '\n';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
};

}  // namespace lakehost::upstream_test
