// embed-openai: an embed provider backed by any server that speaks OpenAI's embeddings API
// (POST /v1/embeddings): OpenAI itself, vLLM, llama.cpp's server, LocalAI, Ollama's /v1, ...
//
// Texts go to the server in batches of `batch_size`; the vectors that come back are put back in
// input order by their `index`, checked (count, dimension, finite) and L2-normalised here,
// because lakehost requires unit vectors and not every server returns them. The dimension is
// fixed for the instance's life: from the config (`dimension`, or `dimensions` which also asks the
// server for shortened vectors), or learnt in create() by embedding one probe text, so that
// dimension() never does I/O.
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
#include <vector>

namespace {

constexpr const char* kName = "embed-openai";
constexpr const char* kVersion = "1.0.0";

// Draft-04 as RapidJSON implements it. "default" is documentation: parse_config() applies it.
constexpr const char* kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "required": ["base_url", "model"],
  "properties": {
    "base_url": {
      "description": "The server's root, e.g. https://api.openai.com or http://127.0.0.1:8000 (a trailing /v1 is accepted too).",
      "type": "string", "pattern": "^https?://[^ ]+$"
    },
    "model": {
      "description": "Embedding model, e.g. text-embedding-3-small.",
      "type": "string", "minLength": 1
    },
    "api_key_env": {
      "description": "Name of the environment variable that holds the API key (sent as Authorization: Bearer). Absent: no Authorization header (local servers).",
      "type": "string", "minLength": 1
    },
    "dimension": {
      "description": "Length of the model's vectors. Absent: \"dimensions\" if given, else probed in create() by embedding one text.",
      "type": "integer", "minimum": 1, "maximum": 65536
    },
    "dimensions": {
      "description": "Sent as the request's \"dimensions\" field: ask the model for shortened vectors (text-embedding-3 and later).",
      "type": "integer", "minimum": 1, "maximum": 65536
    },
    "batch_size": {
      "description": "Texts per request.",
      "type": "integer", "minimum": 1, "maximum": 2048, "default": 128
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
  std::optional<uint32_t> dimensions;
  uint32_t batch_size = 128;
  std::string path = "/v1/embeddings";
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
    } else if (key == "dimensions") {
      c.dimensions = static_cast<uint32_t>(config_integer(kName, "dimensions", v, 1, 65536));
    } else if (key == "batch_size") {
      c.batch_size = static_cast<uint32_t>(config_integer(kName, "batch_size", v, 1, 2048));
    } else {
      bad_config("unknown option \"" + key + "\"");
    }
  }
  if (c.http.base_url.empty()) bad_config("\"base_url\" is required");
  if (c.model.empty()) bad_config("\"model\" is required");
  if (c.dimension && c.dimensions && *c.dimension != *c.dimensions) {
    bad_config("\"dimension\" (" + std::to_string(*c.dimension) + ") and \"dimensions\" (" +
               std::to_string(*c.dimensions) + ") disagree");
  }
  if (!c.dimension) c.dimension = c.dimensions;
  // OpenAI's SDKs take base URLs ending in /v1; accept both forms.
  auto& url = c.http.base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() >= 3 && url.compare(url.size() - 3, 3, "/v1") == 0) c.path = "/embeddings";
  if (!c.api_key_env.empty()) c.http.bearer_token = lakehost::http::secret_from_env(c.api_key_env);
  return c;
}

// {"model", "input": [texts...], "encoding_format": "float", "dimensions"?}. "float" is the
// API's default, but say it: some SDKs and proxies default to base64.
std::string embed_request(const Config& c, std::span<const std::string_view> texts) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("model");
  w.String(c.model.data(), static_cast<rapidjson::SizeType>(c.model.size()));
  w.Key("input");
  w.StartArray();
  // The API refuses an empty string ("'$.input' is invalid"), and a document's text may be
  // empty: it is sent as one space, which has a vector (found by `lakehost plugin test`).
  for (auto t : texts) {
    if (t.empty()) t = " ";
    w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
  }
  w.EndArray();
  w.Key("encoding_format");
  w.String("float");
  if (c.dimensions) {
    w.Key("dimensions");
    w.Uint(*c.dimensions);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

class OpenAIEmbedder final : public lakehost::EmbedProvider {
 public:
  OpenAIEmbedder(lakehost::Host host, std::string_view config_json)
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
    const std::string models = config_.path == "/embeddings" ? "/models" : "/v1/models";
    lakehost::http::expect_ok(client_.get(models, {}, 0), std::string(kName) + ": ");
  }

 private:
  // Embeds `texts` (input #first onwards) in one request. With `out`, writes the unit vectors
  // there and requires `expected`-d vectors; returns the dimension the server answered with.
  size_t request(std::span<const std::string_view> texts, float* out, uint32_t expected,
                 size_t first) const {
    const auto r = client_.post_json(config_.path, embed_request(config_, texts));
    lakehost::http::expect_ok(r, std::string(kName) + ": ");
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("data") || !d["data"].IsArray()) {
      upstream_error("POST " + r.url + " answered without a \"data\" array");
    }
    const auto& data = d["data"];
    if (data.Size() != texts.size()) {
      upstream_error("POST " + r.url + " returned " + std::to_string(data.Size()) +
                     " embeddings for " + std::to_string(texts.size()) + " texts");
    }
    // The API gives each embedding the index of its input; the order of `data` is not promised.
    std::vector<const rapidjson::Value*> rows(texts.size(), nullptr);
    for (rapidjson::SizeType k = 0; k < data.Size(); ++k) {
      const auto& item = data[k];
      size_t i = k;
      if (item.IsObject() && item.HasMember("index")) {
        if (!item["index"].IsUint() || item["index"].GetUint() >= texts.size()) {
          upstream_error("POST " + r.url + " returned an embedding with an invalid index");
        }
        i = item["index"].GetUint();
      }
      if (rows[i])
        upstream_error("POST " + r.url + " returned index " + std::to_string(i) + " twice");
      if (!item.IsObject() || !item.HasMember("embedding") || !item["embedding"].IsArray()) {
        upstream_error("POST " + r.url + " returned an embedding that is not an array of floats");
      }
      rows[i] = &item["embedding"];
    }
    size_t dim = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& row = *rows[i];
      if (row.Empty())
        upstream_error("the vector for text #" + std::to_string(first + i) + " is empty");
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

LAKEHOST_PLUGIN(OpenAIEmbedder, "embed-openai", "1.0.0",
                "Embeddings from an OpenAI-compatible server (POST /v1/embeddings), L2-normalised",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
