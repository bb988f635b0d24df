// embed-ollama: an embed provider backed by an Ollama server (POST /api/embed).
//
// Texts go to the server in batches of `batch_size`; the vectors that come back are checked
// (count, dimension, finite) and L2-normalised here, because lakehost requires unit vectors and
// Ollama models do not all return them. The dimension is fixed for the instance's life: from the
// config, or learnt in create() by embedding one probe text, so that dimension() never does I/O.
//
// HTTP, retries and error mapping are <lakehost/http_client.hpp>. The instance keeps only
// immutable config and a thread-safe client, so it declares LH_FLAG_THREAD_SAFE.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <lakehost/http_client.hpp>
#include <lakehost/plugin.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace {

constexpr const char* kName = "embed-ollama";
constexpr const char* kVersion = "1.0.0";

// Draft-04 as RapidJSON implements it. "default" is documentation: parse_config() applies it.
constexpr const char* kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "required": ["base_url", "model"],
  "properties": {
    "base_url": {
      "description": "The Ollama server, e.g. http://127.0.0.1:11434 (no /api suffix).",
      "type": "string", "pattern": "^https?://[^ ]+$"
    },
    "model": {
      "description": "Embedding model, with its tag, e.g. nomic-embed-text:v1.5.",
      "type": "string", "minLength": 1
    },
    "api_key_env": {
      "description": "Name of an environment variable holding a bearer token (an Ollama behind an authenticating proxy). Unset: no Authorization header.",
      "type": "string", "minLength": 1
    },
    "dimension": {
      "description": "Length of the model's vectors. Absent: probed in create() by embedding one text.",
      "type": "integer", "minimum": 1, "maximum": 65536
    },
    "batch_size": {
      "description": "Texts per request.",
      "type": "integer", "minimum": 1, "maximum": 2048, "default": 64
    },
    "timeout_ms": {
      "description": "Whole-request timeout, per attempt.",
      "type": "integer", "minimum": 1, "maximum": 3600000, "default": 60000
    },
    "connect_timeout_ms": {
      "type": "integer", "minimum": 1, "maximum": 600000, "default": 5000
    },
    "max_retries": {
      "description": "Extra attempts after a failure that may pass (connection, timeout, 429, 5xx).",
      "type": "integer", "minimum": 0, "maximum": 10, "default": 2
    },
    "retry_backoff_ms": {
      "description": "Delay before the first retry; doubled for each further one, with jitter.",
      "type": "integer", "minimum": 0, "maximum": 600000, "default": 250
    },
    "retry_backoff_max_ms": {
      "description": "Cap of every retry delay, a server's Retry-After included.",
      "type": "integer", "minimum": 0, "maximum": 600000, "default": 8000
    }
  },
  "additionalProperties": false
})";

[[noreturn]] void bad_config(const std::string& message) {
  throw lakehost::Error(LH_ERR_INVALID_ARGUMENT, std::string(kName) + " config: " + message);
}

[[noreturn]] void upstream_error(const std::string& message) {
  throw lakehost::Error(LH_ERR_UNAVAILABLE, std::string(kName) + ": " + message);
}

struct Config {
  lakehost::http::ClientConfig http;
  std::string model;
  std::string api_key_env;
  std::optional<uint32_t> dimension;
  uint32_t batch_size = 64;
};

// The host has validated the config against kConfigSchema; the checks here are cheap insurance
// for callers that skip validation (unit tests) and apply the defaults.
Config parse_config(std::string_view json) {
  Config c;
  c.http.timeout_ms = 60000;
  c.http.connect_timeout_ms = 5000;
  c.http.max_retries = 2;
  c.http.backoff_initial_ms = 250;
  c.http.backoff_max_ms = 8000;
  c.http.user_agent = std::string("lakehost-") + kName + "/" + kVersion;
  rapidjson::Document d;
  if (json.empty()) json = "{}";
  if (d.Parse(json.data(), json.size()).HasParseError() || !d.IsObject())
    bad_config("not a JSON object");
  using lakehost::http::config_integer;
  // A const view: RapidJSON 1.1's mutable member iterators trip C++20's rewritten operator!=.
  const rapidjson::Value& object = d;
  for (const auto& m : object.GetObject()) {
    const std::string key(m.name.GetString(), m.name.GetStringLength());
    const auto& v = m.value;
    if (lakehost::http::read_connection_setting(kName, key, v, c.http, c.model, c.api_key_env))
      continue;
    if (key == "dimension") {
      c.dimension = static_cast<uint32_t>(config_integer(kName, "dimension", v, 1, 65536));
    } else if (key == "batch_size") {
      c.batch_size = static_cast<uint32_t>(config_integer(kName, "batch_size", v, 1, 2048));
    } else {
      bad_config("unknown option \"" + key + "\"");
    }
  }
  if (c.http.base_url.empty()) bad_config("\"base_url\" is required");
  if (c.model.empty()) bad_config("\"model\" is required");
  if (!c.api_key_env.empty()) c.http.bearer_token = lakehost::http::secret_from_env(c.api_key_env);
  return c;
}

// {"model": ..., "input": [texts...]}. Ollama's "truncate" defaults to true: an over-long text is
// cut to the model's context rather than failing the whole batch.
std::string embed_request(const std::string& model, std::span<const std::string_view> texts) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("model");
  w.String(model.data(), static_cast<rapidjson::SizeType>(model.size()));
  w.Key("input");
  w.StartArray();
  for (auto t : texts) w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

class OllamaEmbedder final : public lakehost::EmbedProvider {
 public:
  OllamaEmbedder(lakehost::Host host, std::string_view config_json)
      : config_(parse_config(config_json)), client_(config_.http) {
    if (config_.dimension) {
      dimension_ = *config_.dimension;
    } else {
      // dimension() must be fixed and cheap, so ask the model once, now.
      try {
        const std::string_view probe[] = {"lakehost dimension probe"};
        dimension_ = static_cast<uint32_t>(request(probe, nullptr, 0, 0));
      } catch (const lakehost::Error& e) {
        throw lakehost::Error(e.status(), std::string(e.what()) +
                                              " (while probing the model's dimension; set "
                                              "\"dimension\" in the config to skip the probe)");
      }
    }
    host.info("model=" + config_.model + " at " + client_.config().base_url + ", dimension=" +
              std::to_string(dimension_) + (config_.dimension ? " (configured)" : " (probed)") +
              ", batch_size=" + std::to_string(config_.batch_size));
  }

  uint32_t dimension() const override { return dimension_; }

  void embed(std::span<const std::string_view> texts, float* out) override {
    for (size_t at = 0; at < texts.size(); at += config_.batch_size) {
      const auto batch = texts.subspan(at, std::min<size_t>(config_.batch_size, texts.size() - at));
      request(batch, out + at * dimension_, dimension_, at);
    }
  }

  void health() override {
    lakehost::http::expect_ok(client_.get("/api/version", {}, 0), std::string(kName) + ": ");
  }

 private:
  // Embeds `texts` (input #first onwards) in one request. With `out`, writes the unit vectors
  // there and requires `expected`-d vectors; returns the dimension the server answered with.
  size_t request(std::span<const std::string_view> texts, float* out, uint32_t expected,
                 size_t first) const {
    const auto r = client_.post_json("/api/embed", embed_request(config_.model, texts));
    lakehost::http::expect_ok(r, std::string(kName) + ": ");
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("embeddings") ||
        !d["embeddings"].IsArray()) {
      upstream_error("POST " + r.url + " answered without an \"embeddings\" array");
    }
    const auto& rows = d["embeddings"];
    if (rows.Size() != texts.size()) {
      upstream_error("POST " + r.url + " returned " + std::to_string(rows.Size()) +
                     " vectors for " + std::to_string(texts.size()) + " texts");
    }
    size_t dim = 0;
    for (rapidjson::SizeType i = 0; i < rows.Size(); ++i) {
      const auto& row = rows[i];
      if (!row.IsArray() || row.Empty()) {
        upstream_error("the vector for text #" + std::to_string(first + i) + " is empty");
      }
      if (i == 0) dim = row.Size();
      if (out && row.Size() != expected) {
        upstream_error("server returned " + std::to_string(row.Size()) + "-d vectors, " +
                       (config_.dimension ? "manifest says " : "probed at start-up: ") +
                       std::to_string(expected) + " (model " + config_.model + ")");
      }
      if (out) normalise(row, first + i, out + i * expected);
    }
    return dim;
  }

  // Writes row / |row| (computed in double) or fails: lakehost requires unit vectors, and a zero
  // or non-finite vector has no direction to keep.
  static void normalise(const rapidjson::Value& row, size_t index, float* out) {
    double sum = 0;
    for (const auto& x : row.GetArray()) {
      if (!x.IsNumber()) {
        upstream_error("the vector for text #" + std::to_string(index) + " has a non-number");
      }
      sum += x.GetDouble() * x.GetDouble();
    }
    const double norm = std::sqrt(sum);
    if (!(norm > 0) || !std::isfinite(norm)) {
      upstream_error("server returned a " + std::string(norm == 0 ? "zero" : "non-finite") +
                     " vector for text #" + std::to_string(index) + "; it cannot be normalised");
    }
    size_t j = 0;
    for (const auto& x : row.GetArray()) out[j++] = static_cast<float>(x.GetDouble() / norm);
  }

  const Config config_;
  const lakehost::http::Client client_;
  uint32_t dimension_ = 0;
};

}  // namespace

LAKEHOST_PLUGIN(OllamaEmbedder, "embed-ollama", "1.0.0",
                "Embeddings from an Ollama server (POST /api/embed), L2-normalised", kConfigSchema,
                LH_FLAG_THREAD_SAFE)
