// chat-ollama: a chat provider backed by an Ollama server (POST /api/chat).
//
// The host's lh_chat_request becomes Ollama's request: messages as given, the model override or
// the configured model, temperature and max_tokens as options.temperature / options.num_predict
// (on top of the config's own `options`). With `stream` (the default) the server answers with
// NDJSON, one object per line, and each line's message.content is handed to on_delta as soon as
// it arrives, so the host can forward it to its client while the model is still generating. The
// last line says "done": true and carries the token counts that fill lh_chat_usage.
//
// HTTP, retries and error mapping are <lakehost/http_client.hpp>; a retry never happens once a
// delta has been forwarded. The instance keeps only immutable config and a thread-safe client,
// so it declares LH_FLAG_THREAD_SAFE.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <lakehost/http_client.hpp>
#include <lakehost/plugin.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr const char* kName = "chat-ollama";
constexpr const char* kVersion = "1.0.0";

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
      "description": "Chat model used when a request names none, e.g. llama3.2:3b.",
      "type": "string", "minLength": 1
    },
    "api_key_env": {
      "description": "Name of an environment variable holding a bearer token (an Ollama behind an authenticating proxy). Absent: no Authorization header.",
      "type": "string", "minLength": 1
    },
    "stream": {
      "description": "Stream the reply (NDJSON) and forward each delta as it arrives; false: one response, one delta.",
      "type": "boolean", "default": true
    },
    "options": {
      "description": "Model parameters sent with every request (Modelfile names: num_ctx, top_p, seed, ...); a request's temperature and max_tokens override temperature and num_predict.",
      "type": "object"
    },
    "timeout_ms": {
      "description": "Whole-request timeout, per attempt, streams included.",
      "type": "integer", "minimum": 1, "maximum": 3600000, "default": 300000
    },
    "connect_timeout_ms": {
      "type": "integer", "minimum": 1, "maximum": 600000, "default": 5000
    },
    "max_retries": {
      "description": "Extra attempts after a failure that may pass (connection, timeout, 429, 5xx), never after a delta was forwarded.",
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
  bool stream = true;
  rapidjson::Document options;  // an object; read-only after parsing (safe to share)
};

void parse_config(std::string_view json, Config& c) {
  c.http.timeout_ms = 300000;
  c.http.connect_timeout_ms = 5000;
  c.http.max_retries = 2;
  c.http.backoff_initial_ms = 250;
  c.http.backoff_max_ms = 8000;
  c.http.user_agent = std::string("lakehost-") + kName + "/" + kVersion;
  c.options.SetObject();
  rapidjson::Document d;
  if (json.empty()) json = "{}";
  if (d.Parse(json.data(), json.size()).HasParseError() || !d.IsObject())
    bad_config("not a JSON object");
  const rapidjson::Value& object = d;  // const view: see embed-hash on C++20 and RapidJSON
  for (const auto& m : object.GetObject()) {
    const std::string key(m.name.GetString(), m.name.GetStringLength());
    const auto& v = m.value;
    if (lakehost::http::read_connection_setting(kName, key, v, c.http, c.model, c.api_key_env))
      continue;
    if (key == "stream") {
      if (!v.IsBool()) bad_config("\"stream\" must be true or false");
      c.stream = v.GetBool();
    } else if (key == "options") {
      if (!v.IsObject()) bad_config("\"options\" must be an object");
      c.options.CopyFrom(v, c.options.GetAllocator());
    } else {
      bad_config("unknown option \"" + key + "\"");
    }
  }
  if (c.http.base_url.empty()) bad_config("\"base_url\" is required");
  if (c.model.empty()) bad_config("\"model\" is required");
  if (!c.api_key_env.empty()) c.http.bearer_token = lakehost::http::secret_from_env(c.api_key_env);
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// The shortest text that reads back as the same float: 0.2f goes out as 0.2, not as the double
// 0.20000000298023224.
void write_float(Writer& w, float x) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, x).ptr;
  w.RawValue(text, static_cast<size_t>(end - text), rapidjson::kNumberType);
}

uint64_t count(const rapidjson::Value& d, const char* key) {
  return d.HasMember(key) && d[key].IsUint64() ? d[key].GetUint64() : 0;
}

class OllamaChat final : public lakehost::ChatProvider {
 public:
  OllamaChat(lakehost::Host host, std::string_view config_json) {
    parse_config(config_json, config_);
    client_.emplace(config_.http);
    host.info("model=" + config_.model + " at " + client_->config().base_url +
              (config_.stream ? ", streaming" : ", not streaming"));
  }

  void chat(const lh_chat_request& request, DeltaSink on_delta, void* sink_ctx,
            lh_chat_usage& usage) override {
    const std::string body = request_body(request);
    const std::string prefix = std::string(kName) + ": ";
    if (!config_.stream) {
      const auto r = lakehost::http::expect_ok(client_->post_json("/api/chat", body), prefix);
      rapidjson::Document d;
      d.Parse(r.body.data(), r.body.size());
      if (d.HasParseError() || !d.IsObject()) upstream_error("POST " + r.url + ": not JSON");
      if (d.HasMember("error")) upstream_error("POST " + r.url + ": " + error_text(d["error"]));
      const std::string_view content = message_content(d);
      if (!content.empty()) on_delta(sink_ctx, lakehost::str(content));
      usage.prompt_tokens = count(d, "prompt_eval_count");
      usage.completion_tokens = count(d, "eval_count");
      return;
    }

    bool done = false;
    const auto r = client_->post_json_stream(
        "/api/chat", body, {{"Accept", "application/x-ndjson"}}, [&](std::string_view line) {
          if (line.find_first_not_of(" \t") == std::string_view::npos) return;
          rapidjson::Document d;
          d.Parse(line.data(), line.size());
          if (d.HasParseError() || !d.IsObject()) {
            upstream_error("POST " + client_->url("/api/chat") + ": a stream line is not JSON");
          }
          // Ollama reports an error after the stream started as a line of its own; the status
          // stays 200.
          if (d.HasMember("error")) {
            upstream_error("POST " + client_->url("/api/chat") +
                           ": error in the stream: " + error_text(d["error"]));
          }
          const std::string_view content = message_content(d);
          if (!content.empty()) on_delta(sink_ctx, lakehost::str(content));
          if (d.HasMember("done") && d["done"].IsBool() && d["done"].GetBool()) {
            usage.prompt_tokens = count(d, "prompt_eval_count");
            usage.completion_tokens = count(d, "eval_count");
            done = true;
          }
        });
    lakehost::http::expect_ok(r, prefix);
    if (!done) upstream_error("POST " + r.url + ": the stream ended before its \"done\" line");
  }

  void health() override {
    lakehost::http::expect_ok(client_->get("/api/version", {}, 0), std::string(kName) + ": ");
  }

 private:
  // {"model", "messages": [{"role", "content"}], "stream", "options"?}
  std::string request_body(const lh_chat_request& request) const {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("model");
    const std::string_view model = lakehost::view(request.model);
    write_string(w, model.empty() ? std::string_view(config_.model) : model);
    w.Key("messages");
    w.StartArray();
    for (size_t i = 0; i < request.n_messages; ++i) {
      w.StartObject();
      w.Key("role");
      write_string(w, lakehost::view(request.messages[i].role));
      w.Key("content");
      write_string(w, lakehost::view(request.messages[i].content));
      w.EndObject();
    }
    w.EndArray();
    w.Key("stream");
    w.Bool(config_.stream);
    const bool temperature = request.temperature >= 0;
    const bool num_predict = request.max_tokens > 0;
    if (temperature || num_predict || config_.options.MemberCount() > 0) {
      w.Key("options");
      w.StartObject();
      const rapidjson::Value& options = config_.options;
      for (const auto& m : options.GetObject()) {
        const std::string_view key(m.name.GetString(), m.name.GetStringLength());
        if ((temperature && key == "temperature") || (num_predict && key == "num_predict"))
          continue;
        w.Key(m.name.GetString(), m.name.GetStringLength());
        m.value.Accept(w);
      }
      if (temperature) {
        w.Key("temperature");
        write_float(w, request.temperature);
      }
      if (num_predict) {
        w.Key("num_predict");
        w.Int(request.max_tokens);
      }
      w.EndObject();
    }
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
  }

  static std::string_view message_content(const rapidjson::Value& d) {
    if (!d.HasMember("message") || !d["message"].IsObject()) return {};
    const auto& m = d["message"];
    if (!m.HasMember("content") || !m["content"].IsString()) return {};
    return {m["content"].GetString(), m["content"].GetStringLength()};
  }

  static std::string error_text(const rapidjson::Value& e) {
    if (e.IsString()) return std::string(e.GetString(), e.GetStringLength());
    rapidjson::StringBuffer buf;
    Writer w(buf);
    e.Accept(w);
    return buf.GetString();
  }

  Config config_;
  std::optional<lakehost::http::Client> client_;
};

}  // namespace

LAKEHOST_PLUGIN(OllamaChat, "chat-ollama", "1.0.0",
                "Chat through an Ollama server (POST /api/chat), streamed as NDJSON", kConfigSchema,
                LH_FLAG_THREAD_SAFE)
