// chat-anthropic: a chat provider for Anthropic's Messages API (POST /v1/messages).
//
// The host's messages (system / user / assistant) become one Messages request: system messages
// go to the top-level "system" field (the API has no "system" role), the others keep their order.
// "max_tokens" is required by the API, so the request's value or the config's is always sent.
// With "stream": true (the default) the reply arrives as server-sent events and every text_delta
// is handed to the host as it comes; otherwise the text blocks of the one JSON reply are.
// Transport, retries (429, 5xx including 529 overloaded) and error mapping come from the SDK's
// <lakehost/http_client.hpp>.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <lakehost/http_client.hpp>
#include <lakehost/plugin.hpp>

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = lakehost::http;

constexpr const char* kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false,
  "required": ["model"],
  "properties": {
    "base_url": {"type": "string", "pattern": "^https?://[^ ]+$",
                 "default": "https://api.anthropic.com"},
    "model": {"type": "string", "minLength": 1},
    "api_key_env": {"type": "string", "minLength": 1},
    "anthropic_version": {"type": "string", "minLength": 1, "default": "2023-06-01"},
    "max_tokens": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1024},
    "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    "stream": {"type": "boolean", "default": true},
    "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 3600000, "default": 600000},
    "connect_timeout_ms": {"type": "integer", "minimum": 100, "maximum": 600000, "default": 10000},
    "max_retries": {"type": "integer", "minimum": 0, "maximum": 10, "default": 2},
    "retry_backoff_ms": {"type": "integer", "minimum": 0, "maximum": 60000, "default": 500},
    "retry_backoff_max_ms": {"type": "integer", "minimum": 0, "maximum": 600000, "default": 8000}
  }
})";

using lakehost::Error;

[[noreturn]] void unexpected(const std::string& what) {
  throw Error(LH_ERR_UNAVAILABLE,
              "chat-anthropic: unexpected reply from the Messages API: " + what);
}

const rapidjson::Value* member(const rapidjson::Value& o, const char* name) {
  return o.IsObject() && o.HasMember(name) ? &o[name] : nullptr;
}

std::string_view string_member(const rapidjson::Value& o, const char* name) {
  const rapidjson::Value* v = member(o, name);
  return v && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength())
                            : std::string_view();
}

// usage.input_tokens / usage.output_tokens, where present (message_delta repeats them as
// cumulative totals; the last value seen wins).
void read_usage(const rapidjson::Value& usage, lh_chat_usage& out) {
  if (const auto* v = member(usage, "input_tokens"); v && v->IsUint64())
    out.prompt_tokens = v->GetUint64();
  if (const auto* v = member(usage, "output_tokens"); v && v->IsUint64())
    out.completion_tokens = v->GetUint64();
}

class AnthropicChat final : public lakehost::ChatProvider {
 public:
  AnthropicChat(const lakehost::Host& host, std::string_view config_json)
      : client_(client_config(config_json)), health_client_(health_config(client_.config())) {
    host.info("base_url=" + client_.config().base_url + " model=" + model_ +
              " anthropic-version=" + version_ + " max_tokens=" + std::to_string(max_tokens_) +
              " stream=" + (stream_ ? "true" : "false") +
              (api_key_.empty() ? " (no API key: none configured)" : ""));
  }

  // GET /v1/models, once, without retries and with a short timeout: a wrong key or an
  // unreachable server fails the reload that enables this plugin (and GET /health) with the
  // upstream's own message, rather than the first chat.
  void health() override {
    const http::Response r = health_client_.get("/v1/models?limit=1", {}, 0);
    if (!r.ok()) fail(r);
  }

  void chat(const lh_chat_request& req, DeltaSink on_delta, void* sink_ctx,
            lh_chat_usage& usage) override {
    const std::string body = request_body(req);
    if (stream_) {
      streamed(body, on_delta, sink_ctx, usage);
    } else {
      whole(body, on_delta, sink_ctx, usage);
    }
  }

 private:
  // Reads the config (already validated by the schema) into the members and the client config.
  http::ClientConfig client_config(std::string_view config_json) {
    rapidjson::Document d;
    d.Parse(config_json.data(), config_json.size());
    if (d.HasParseError() || !d.IsObject())
      throw Error(LH_ERR_INVALID_ARGUMENT, "chat-anthropic config: not a JSON object");
    auto str = [&](const char* name, std::string fallback) {
      return d.HasMember(name) ? std::string(d[name].GetString(), d[name].GetStringLength())
                               : fallback;
    };
    auto integer = [&](const char* name, int64_t fallback) {
      return d.HasMember(name) ? d[name].GetInt64() : fallback;
    };
    version_ = str("anthropic_version", "2023-06-01");
    max_tokens_ = static_cast<int32_t>(integer("max_tokens", 1024));
    if (d.HasMember("temperature")) temperature_ = d["temperature"].GetDouble();
    if (d.HasMember("stream")) stream_ = d["stream"].GetBool();

    http::ClientConfig c;
    c.base_url = "https://api.anthropic.com";
    c.user_agent = "lakehost-chat-anthropic/1.0.0";
    c.timeout_ms = 600000;
    c.connect_timeout_ms = 10000;
    c.max_retries = 2;
    c.backoff_initial_ms = 500;
    c.backoff_max_ms = 8000;
    std::string key_env;
    // The connection settings (the members read above are the plugin's own).
    const rapidjson::Value& object = d;  // const view: see embed-hash on C++20 and RapidJSON
    for (const auto& m : object.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      http::read_connection_setting("chat-anthropic", name, m.value, c, model_, key_env);
    }
    // The key is read once, here: a missing variable fails the reload, naming it (never its
    // value). No api_key_env: no x-api-key header (a gateway that adds its own, a test server).
    if (!key_env.empty()) api_key_ = http::secret_from_env(key_env, "api_key_env");
    // Anthropic's SDKs take the root; a root ending in /v1 (OpenAI habits) is accepted too.
    while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
    if (c.base_url.size() >= 3 && c.base_url.compare(c.base_url.size() - 3, 3, "/v1") == 0)
      c.base_url.resize(c.base_url.size() - 3);
    c.headers.emplace_back("anthropic-version", version_);
    if (!api_key_.empty()) c.headers.emplace_back("x-api-key", api_key_);
    return c;
  }

  static http::ClientConfig health_config(http::ClientConfig c) {
    c.timeout_ms = std::min<long>(c.timeout_ms, 5000);
    c.connect_timeout_ms = std::min<long>(c.connect_timeout_ms, 5000);
    c.max_retries = 0;
    c.pool_size = 1;
    return c;
  }

  // {"model", "max_tokens", "system"?, "messages", "temperature"?, "stream"}
  std::string request_body(const lh_chat_request& req) const {
    std::string system;
    size_t conversation = 0;
    for (size_t i = 0; i < req.n_messages; ++i) {
      const std::string_view role = lakehost::view(req.messages[i].role);
      if (role == "system") {
        if (!system.empty()) system += "\n\n";
        system += lakehost::view(req.messages[i].content);
      } else if (role == "user" || role == "assistant") {
        ++conversation;
      } else {
        throw Error(LH_ERR_INVALID_ARGUMENT, "chat-anthropic: message " + std::to_string(i) +
                                                 " has role \"" + std::string(role) +
                                                 "\"; the Messages API takes user, assistant "
                                                 "and (as the top-level system field) system");
      }
    }
    if (conversation == 0)
      throw Error(LH_ERR_INVALID_ARGUMENT,
                  "chat-anthropic: the Messages API needs at least one user or assistant message");

    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto put = [&](std::string_view s) {
      w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    };
    w.StartObject();
    w.Key("model");
    const std::string_view model = lakehost::view(req.model);
    put(model.empty() ? std::string_view(model_) : model);
    w.Key("max_tokens");
    w.Int(req.max_tokens > 0 ? req.max_tokens : max_tokens_);
    if (!system.empty()) {
      w.Key("system");
      put(system);
    }
    w.Key("messages");
    w.StartArray();
    for (size_t i = 0; i < req.n_messages; ++i) {
      const std::string_view role = lakehost::view(req.messages[i].role);
      if (role == "system") continue;
      w.StartObject();
      w.Key("role");
      put(role);
      w.Key("content");
      put(lakehost::view(req.messages[i].content));
      w.EndObject();
    }
    w.EndArray();
    // A negative request temperature means "provider default": the config's, else the API's.
    if (req.temperature >= 0) {
      // The shortest text that reads back as the same float: 0.2f goes out as 0.2.
      char text[32];
      const auto end = std::to_chars(text, text + sizeof text, req.temperature).ptr;
      w.Key("temperature");
      w.RawValue(text, static_cast<size_t>(end - text), rapidjson::kNumberType);
    } else if (temperature_ >= 0) {
      w.Key("temperature");
      w.Double(temperature_);
    }
    w.Key("stream");
    w.Bool(stream_);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
  }

  // One JSON reply: the text blocks, concatenated (other block types, e.g. thinking, skipped).
  void whole(const std::string& body, DeltaSink on_delta, void* sink_ctx,
             lh_chat_usage& usage) const {
    const http::Response r = client_.post_json("/v1/messages", body);
    if (!r.ok()) fail(r);
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    const rapidjson::Value* content = d.HasParseError() ? nullptr : member(d, "content");
    if (!content || !content->IsArray()) unexpected("no content array in " + excerpt(r.body));
    std::string text;
    for (const auto& block : content->GetArray())
      if (string_member(block, "type") == "text") text += string_member(block, "text");
    if (const auto* u = member(d, "usage")) read_usage(*u, usage);
    if (!text.empty()) on_delta(sink_ctx, lakehost::str(text));
  }

  // Server-sent events: message_start, content_block_start/delta/stop, message_delta,
  // message_stop, ping, error; other (future) types are ignored, as the API asks.
  void streamed(const std::string& body, DeltaSink on_delta, void* sink_ctx,
                lh_chat_usage& usage) const {
    bool stopped = false;
    size_t deltas = 0;
    http::SseDecoder sse([&](std::string_view event, std::string_view data) {
      rapidjson::Document d;
      d.Parse(data.data(), data.size());
      if (d.HasParseError() || !d.IsObject())
        unexpected("event \"" + std::string(event) + "\" is not a JSON object");
      std::string_view type = string_member(d, "type");
      if (type.empty()) type = event;
      if (type == "content_block_delta") {
        const rapidjson::Value* delta = member(d, "delta");
        if (delta && string_member(*delta, "type") == "text_delta") {
          const std::string_view text = string_member(*delta, "text");
          if (!text.empty()) {
            ++deltas;
            on_delta(sink_ctx, lakehost::str(text));
          }
        }
      } else if (type == "content_block_start") {
        // A text block normally starts empty; pass on any text it already carries.
        const rapidjson::Value* block = member(d, "content_block");
        if (block && string_member(*block, "type") == "text") {
          const std::string_view text = string_member(*block, "text");
          if (!text.empty()) on_delta(sink_ctx, lakehost::str(text));
        }
      } else if (type == "message_start") {
        const rapidjson::Value* message = member(d, "message");
        if (const auto* u = message ? member(*message, "usage") : nullptr) read_usage(*u, usage);
      } else if (type == "message_delta") {
        if (const auto* u = member(d, "usage")) read_usage(*u, usage);
      } else if (type == "message_stop") {
        stopped = true;
      } else if (type == "error") {
        // An error after the 200 header (e.g. overloaded_error, HTTP 529's twin). Not retried:
        // text may already have reached the client.
        const rapidjson::Value* e = member(d, "error");
        throw Error(LH_ERR_UNAVAILABLE,
                    "chat-anthropic: the Messages API stream failed after " +
                        std::to_string(deltas) + " text deltas: " +
                        redact(std::string(e ? string_member(*e, "type") : "error") + ": " +
                               std::string(e ? string_member(*e, "message") : data)));
      }
    });
    const http::Response r =
        client_.post_json_stream("/v1/messages", body, {{"Accept", "text/event-stream"}},
                                 [&](std::string_view line) { sse.line(line); });
    if (!r.ok()) fail(r);
    sse.finish();
    if (!stopped)
      throw Error(LH_ERR_UNAVAILABLE, "chat-anthropic: POST " + r.url +
                                          ": the stream ended before message_stop (" +
                                          std::to_string(deltas) + " text deltas received)");
  }

  // HTTP errors carry {"type": "error", "error": {"type", "message"}}: name both.
  [[noreturn]] void fail(const http::Response& r) const {
    std::string type;
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    if (!d.HasParseError()) {
      if (const auto* e = member(d, "error")) type = string_member(*e, "type");
    }
    std::string message = http::describe(r);
    if (!type.empty() && r.error.empty()) {
      const std::string status = "HTTP " + std::to_string(r.status);
      const size_t at = message.find(status);
      if (at != std::string::npos) message.insert(at + status.size(), " " + type);
    }
    throw Error(http::status_for(r), "chat-anthropic: " + redact(message));
  }

  // The helper redacts only bearer tokens; this key travels in x-api-key.
  std::string redact(std::string s) const {
    if (api_key_.empty()) return s;
    for (size_t at; (at = s.find(api_key_)) != std::string::npos;)
      s.replace(at, api_key_.size(), "***");
    return s;
  }

  std::string excerpt(const std::string& body) const {
    return redact(body.size() > 200 ? body.substr(0, 200) + "..." : body);
  }

  std::string model_;
  std::string version_;
  std::string api_key_;
  int32_t max_tokens_ = 1024;
  double temperature_ = -1;  // < 0: not sent
  bool stream_ = true;
  http::Client client_;         // after the members: its config fills them in
  http::Client health_client_;  // same server and headers, short timeouts, no retries
};

}  // namespace

// The client is safe for concurrent calls and the config is immutable.
LAKEHOST_PLUGIN(AnthropicChat, "chat-anthropic", "1.0.0",
                "Chat through Anthropic's Messages API (POST /v1/messages, streamed)",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
