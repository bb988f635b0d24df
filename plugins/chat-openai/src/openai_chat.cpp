// chat-openai: a chat provider backed by any server that speaks OpenAI's chat completions API
// (POST /v1/chat/completions): OpenAI itself, vLLM, llama.cpp's server, LocalAI, Ollama's /v1, ...
//
// The host's lh_chat_request becomes the API's request: messages as given, the model override or
// the configured model, `temperature` and `max_tokens` when the request sets them. With `stream`
// (the default) the server answers with server-sent events, one `data: {chat.completion.chunk}`
// per delta, and each choices[0].delta.content is handed to on_delta as soon as it arrives, so
// the host can forward it while the model is still generating. `stream_options.include_usage`
// asks for a last chunk with the token counts that fill lh_chat_usage; `data: [DONE]` ends the
// stream.
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

constexpr const char* kName = "chat-openai";
constexpr const char* kVersion = "1.0.0";

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
      "description": "Chat model used when a request names none, e.g. gpt-4o-mini.",
      "type": "string", "minLength": 1
    },
    "api_key_env": {
      "description": "Name of the environment variable that holds the API key (sent as Authorization: Bearer). Absent: no Authorization header (local servers).",
      "type": "string", "minLength": 1
    },
    "stream": {
      "description": "Stream the reply (server-sent events) and forward each delta as it arrives; false: one response, one delta.",
      "type": "boolean", "default": true
    },
    "stream_usage": {
      "description": "When streaming, send stream_options.include_usage so the server reports token counts; turn off for servers that reject stream_options.",
      "type": "boolean", "default": true
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
  bool stream_usage = true;
  std::string path = "/v1/chat/completions";
  std::string models_path = "/v1/models";
};

void parse_config(std::string_view json, Config& c) {
  c.http.timeout_ms = 300000;
  c.http.connect_timeout_ms = 5000;
  c.http.max_retries = 2;
  c.http.backoff_initial_ms = 250;
  c.http.backoff_max_ms = 8000;
  c.http.user_agent = std::string("lakehost-") + kName + "/" + kVersion;
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
    } else if (key == "stream_usage") {
      if (!v.IsBool()) bad_config("\"stream_usage\" must be true or false");
      c.stream_usage = v.GetBool();
    } else {
      bad_config("unknown option \"" + key + "\"");
    }
  }
  if (c.http.base_url.empty()) bad_config("\"base_url\" is required");
  if (c.model.empty()) bad_config("\"model\" is required");
  // OpenAI's SDKs take base URLs ending in /v1; accept both forms.
  auto& url = c.http.base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() >= 3 && url.compare(url.size() - 3, 3, "/v1") == 0) {
    c.path = "/chat/completions";
    c.models_path = "/models";
  }
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

class OpenAIChat final : public lakehost::ChatProvider {
 public:
  OpenAIChat(lakehost::Host host, std::string_view config_json) {
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
      const auto r = lakehost::http::expect_ok(client_->post_json(config_.path, body), prefix);
      rapidjson::Document d;
      d.Parse(r.body.data(), r.body.size());
      if (d.HasParseError() || !d.IsObject()) upstream_error("POST " + r.url + ": not JSON");
      if (d.HasMember("error")) upstream_error("POST " + r.url + ": " + error_text(d["error"]));
      const rapidjson::Value* choice = first_choice(d);
      if (!choice) upstream_error("POST " + r.url + ": the response has no choices");
      const std::string_view content = text_of(*choice, "message");
      if (!content.empty()) on_delta(sink_ctx, lakehost::str(content));
      read_usage(d, usage);
      return;
    }

    bool finished = false;
    lakehost::http::SseDecoder events([&](std::string_view event, std::string_view data) {
      if (data == "[DONE]") {
        finished = true;
        return;
      }
      rapidjson::Document d;
      d.Parse(data.data(), data.size());
      if (d.HasParseError() || !d.IsObject()) {
        upstream_error("POST " + client_->url(config_.path) + ": a stream event is not JSON");
      }
      // An error after the stream started arrives as an event whose data is an error object
      // (what OpenAI's own SDK checks for); the status stays 200.
      if (event == "error" || d.HasMember("error")) {
        upstream_error("POST " + client_->url(config_.path) + ": error in the stream: " +
                       (d.HasMember("error") ? error_text(d["error"]) : std::string(data)));
      }
      if (const rapidjson::Value* choice = first_choice(d)) {
        const std::string_view content = text_of(*choice, "delta");
        if (!content.empty()) on_delta(sink_ctx, lakehost::str(content));
      }
      read_usage(d, usage);
    });
    const auto r = client_->post_json_stream(config_.path, body, {{"Accept", "text/event-stream"}},
                                             [&](std::string_view line) { events.line(line); });
    lakehost::http::expect_ok(r, prefix);
    if (!finished) events.finish();
    if (!finished) upstream_error("POST " + r.url + ": the stream ended without data: [DONE]");
  }

  void health() override {
    lakehost::http::expect_ok(client_->get(config_.models_path, {}, 0), std::string(kName) + ": ");
  }

 private:
  // {"model", "messages": [{"role", "content"}], "stream", "stream_options"?, "temperature"?,
  //  "max_tokens"?}
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
    if (config_.stream && config_.stream_usage) {
      w.Key("stream_options");
      w.StartObject();
      w.Key("include_usage");
      w.Bool(true);
      w.EndObject();
    }
    if (request.temperature >= 0) {
      w.Key("temperature");
      write_float(w, request.temperature);
    }
    if (request.max_tokens > 0) {
      w.Key("max_tokens");
      w.Int(request.max_tokens);
    }
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
  }

  static const rapidjson::Value* first_choice(const rapidjson::Value& d) {
    if (!d.HasMember("choices") || !d["choices"].IsArray() || d["choices"].Empty()) return nullptr;
    return &d["choices"][0];
  }

  // choice[field].content ("message" in a completion, "delta" in a chunk); null -> empty.
  static std::string_view text_of(const rapidjson::Value& choice, const char* field) {
    if (!choice.IsObject() || !choice.HasMember(field) || !choice[field].IsObject()) return {};
    const auto& m = choice[field];
    if (!m.HasMember("content") || !m["content"].IsString()) return {};
    return {m["content"].GetString(), m["content"].GetStringLength()};
  }

  static void read_usage(const rapidjson::Value& d, lh_chat_usage& usage) {
    if (!d.HasMember("usage") || !d["usage"].IsObject()) return;  // null in all chunks but one
    usage.prompt_tokens = count(d["usage"], "prompt_tokens");
    usage.completion_tokens = count(d["usage"], "completion_tokens");
  }

  // The API's error object {"message", "type", "param", "code"}: its message (and type).
  static std::string error_text(const rapidjson::Value& e) {
    if (e.IsString()) return std::string(e.GetString(), e.GetStringLength());
    if (e.IsObject() && e.HasMember("message") && e["message"].IsString()) {
      std::string m(e["message"].GetString(), e["message"].GetStringLength());
      if (e.HasMember("type") && e["type"].IsString())
        m += std::string(" (") + e["type"].GetString() + ")";
      return m;
    }
    rapidjson::StringBuffer buf;
    Writer w(buf);
    e.Accept(w);
    return buf.GetString();
  }

  Config config_;
  std::optional<lakehost::http::Client> client_;
};

}  // namespace

LAKEHOST_PLUGIN(OpenAIChat, "chat-openai", "1.0.0",
                "Chat through an OpenAI-compatible server (POST /v1/chat/completions), streamed",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
