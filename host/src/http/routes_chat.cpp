// Chat: POST /v1/chat (lakehost's shape, optionally grounded in a collection), the
// OpenAI-compatible POST /v1/chat/completions (plain and server-sent events) and GET /v1/models.
// Validation and retrieval run on the network thread (fast); the call to the chat provider,
// which waits on an upstream server, runs on the HTTP server's worker pool.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <random>

#include "http/openai_errors.h"
#include "http/request_json.h"
#include "http/routes.h"

namespace lakehost {

namespace {

using Value = rapidjson::Value;

constexpr size_t kMaxMessages = 1000;
constexpr size_t kDefaultChatK = 4;
constexpr size_t kMaxChatK = 50;

// A message's content: a string, or OpenAI's array of content parts of which lakehost takes the
// text parts, [{"type": "text", "text": "..."}]. The texts are concatenated as they are, as OpenAI
// does: a client that wants them apart puts the separator into the text.
std::string content_text(const Value& m, const std::string& at) {
  const Value* content = member(m, "content");
  if (content && content->IsString()) return {content->GetString(), content->GetStringLength()};
  if (!content || !content->IsArray())
    throw bad_request(at + "/content is required: a string or an array of content parts");
  if (content->Empty()) throw unprocessable(at + "/content must not be an empty array");
  std::string text;
  for (rapidjson::SizeType j = 0; j < content->Size(); ++j) {
    const std::string part_at = at + "/content/" + std::to_string(j);
    const Value& part = (*content)[j];
    if (!part.IsObject())
      throw bad_request(part_at + " must be an object {\"type\": \"text\", \"text\": \"...\"}");
    auto type = opt_string(part, "type");
    if (!type) throw bad_request(part_at + "/type is required: a string");
    if (*type != "text")
      throw HostError(
          Errc::bad_request, "invalid_value",
          part_at + "/type " +
              (json::is_clean_text(*type) ? "\"" + *type + "\"" : std::string("value")) +
              " is not supported: chat providers take text only (\"text\" parts)");
    const Value* t = member(part, "text");
    if (!t || !t->IsString()) throw bad_request(part_at + "/text is required: a string");
    text.append(t->GetString(), t->GetStringLength());
  }
  return text;
}

// messages: [{"role": "system"|"developer"|"user"|"assistant", "content"}, ...]. "developer" is
// OpenAI's newer name for "system" and is passed on as "system", which every provider knows.
std::vector<std::pair<std::string, std::string>> parse_messages(const Value& body) {
  const Value* list = member(body, "messages");
  if (!list) throw bad_request("/messages is required: an array of {role, content}");
  if (!list->IsArray()) throw bad_request("/messages must be an array");
  if (list->Empty()) throw unprocessable("/messages must not be empty");
  if (list->Size() > kMaxMessages)
    throw unprocessable("/messages must have at most " + std::to_string(kMaxMessages) + " entries");
  std::vector<std::pair<std::string, std::string>> out;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const std::string at = "/messages/" + std::to_string(i);
    const Value& m = (*list)[i];
    if (!m.IsObject()) throw bad_request(at + " must be an object");
    auto role = opt_string(m, "role");
    if (!role) throw bad_request(at + "/role is required: a string");
    if (*role == "developer") role = "system";
    if (*role != "system" && *role != "user" && *role != "assistant")
      throw unprocessable(at +
                          "/role must be \"system\", \"developer\", \"user\" or \"assistant\"");
    std::string text = content_text(m, at);
    if (text.find('\0') != std::string::npos)
      throw unprocessable(at + "/content must not contain NUL");
    out.emplace_back(*role, std::move(text));
  }
  return out;
}

std::string new_completion_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "chatcmpl-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void write_usage(json::Writer& w, const ChatResult& u) {
  w.StartObject();
  json::key(w, "prompt_tokens");
  w.Uint64(u.prompt_tokens);
  json::key(w, "completion_tokens");
  w.Uint64(u.completion_tokens);
  json::key(w, "total_tokens");
  w.Uint64(u.prompt_tokens + u.completion_tokens);
  w.EndObject();
}

// The members every chat.completion and chat.completion.chunk object starts with.
void completion_head(json::Writer& w, const std::string& id, const char* object, int64_t created,
                     const std::string& model) {
  json::key(w, "id");
  json::put(w, id);
  json::key(w, "object");
  json::put(w, object);
  json::key(w, "created");
  w.Int64(created);
  json::key(w, "model");
  json::put(w, model);
}

// {"role": "assistant", "content": ...}: the reply in both chat routes' answers.
void write_assistant_message(json::Writer& w, const std::string& content) {
  w.StartObject();
  json::key(w, "role");
  json::put(w, "assistant");
  json::key(w, "content");
  json::put(w, content);
  w.EndObject();
}

void write_sources(json::Writer& w, const std::vector<std::string>& sources) {
  json::key(w, "sources");
  w.StartArray();
  for (const auto& s : sources) json::put(w, s);
  w.EndArray();
}

// Shared by both chat routes: the provider (the request's `model` names a chat provider id),
// the messages, the sampling options, and retrieval when `collection` is given.
std::shared_ptr<ChatCall> prepare_chat(RouteContext& ctx, rapidjson::Document& body,
                                       const HttpRequest& req) {
  ChatRequest r;
  r.collection = opt_string(body, "collection");
  // A key limited to other collections learns nothing more about this request.
  if (r.collection) req.require_collection(*r.collection);
  r.model = opt_string(body, "model");
  r.messages = parse_messages(body);
  if (const Value* t = member(body, "temperature")) {
    if (!t->IsNumber()) throw bad_request("/temperature must be a number");
    const double v = t->GetDouble();
    if (!(v >= 0 && v <= 2)) throw unprocessable("/temperature must be in [0, 2]");
    r.temperature = static_cast<float>(v);
  }
  if (const Value* m = member(body, "max_tokens")) {
    if (!m->IsInt64()) throw bad_request("/max_tokens must be an integer");
    if (m->GetInt64() < 1 || m->GetInt64() > 1000000)
      throw unprocessable("/max_tokens must be in [1, 1000000]");
    r.max_tokens = static_cast<int32_t>(m->GetInt64());
  }
  if (!r.collection) {
    if (member(body, "k"))
      throw unprocessable("/k needs /collection: the collection to retrieve from");
  } else {
    r.k = kDefaultChatK;
    if (const Value* kv = member(body, "k")) {
      if (!kv->IsUint64()) throw bad_request("/k must be a positive integer");
      if (kv->GetUint64() < 1 || kv->GetUint64() > kMaxChatK)
        throw unprocessable("/k must be in [1, " + std::to_string(kMaxChatK) + "]");
      r.k = kv->GetUint64();
    }
    r.role = opt_string(body, "role").value_or("");
  }
  return ctx.core.chat.prepare(r);
}

HttpResponse chat(RouteContext& ctx, const HttpRequest& req) {
  auto body = parse_body(req);
  if (const Value* s = member(body, "stream"); s && s->IsTrue())
    throw unprocessable(
        "/stream: POST /v1/chat answers at once; stream with POST /v1/chat/completions");
  auto call = prepare_chat(ctx, body, req);
  HttpResponse r;
  r.deferred = [call] {
    ChatResult result = ChatService::run(*call, nullptr);
    rapidjson::StringBuffer buf;
    json::Writer w(buf);
    w.StartObject();
    json::key(w, "model");
    json::put(w, call->provider->id());
    json::key(w, "message");
    write_assistant_message(w, result.content);
    write_sources(w, call->sources);
    json::key(w, "usage");
    write_usage(w, result);
    w.EndObject();
    return ok_json(buf);
  };
  return r;
}

// Errors in OpenAI's shape (openai_errors.h), which OpenAI's clients read.
HttpResponse chat_completions(RouteContext& ctx, const HttpRequest& req) {
  return openai::with_openai_errors([&]() -> HttpResponse {
    auto body = parse_body(req);
    bool streaming = false;
    if (const Value* s = member(body, "stream")) {
      if (!s->IsBool()) throw bad_request("/stream must be a boolean");
      streaming = s->GetBool();
    }
    bool include_usage = false;
    if (const Value* so = member(body, "stream_options")) {
      if (!so->IsObject()) throw bad_request("/stream_options must be an object");
      if (const Value* iu = member(*so, "include_usage")) {
        if (!iu->IsBool()) throw bad_request("/stream_options/include_usage must be a boolean");
        include_usage = iu->GetBool();
      }
    }
    if (const Value* n = member(body, "n"); n && !(n->IsInt() && n->GetInt() == 1))
      throw unprocessable("/n: only one choice (n = 1) is supported");
    auto call = prepare_chat(ctx, body, req);
    const std::string id = new_completion_id();
    const int64_t created = unix_now();

    HttpResponse r;
    if (!streaming) {
      r.deferred = [call, id, created] {
        ChatResult result = ChatService::run(*call, nullptr);
        rapidjson::StringBuffer buf;
        json::Writer w(buf);
        w.StartObject();
        completion_head(w, id, "chat.completion", created, call->provider->id());
        json::key(w, "choices");
        w.StartArray();
        w.StartObject();
        json::key(w, "index");
        w.Int(0);
        json::key(w, "message");
        write_assistant_message(w, result.content);
        json::key(w, "finish_reason");
        json::put(w, "stop");
        w.EndObject();
        w.EndArray();
        json::key(w, "usage");
        write_usage(w, result);
        write_sources(w, call->sources);
        w.EndObject();
        return ok_json(buf);
      };
      return r;
    }

    // Server-sent events in OpenAI's chunk format: a first chunk with the role, one per delta, a
    // last one with finish_reason, optionally one with usage, then "data: [DONE]".
    r.content_type = "text/event-stream";
    r.stream = [call, id, created, include_usage](const StreamWrite& write) -> HttpResponse {
      auto chunk = [&](const std::function<void(json::Writer&)>& choices_and_more) {
        rapidjson::StringBuffer buf;
        json::Writer w(buf);
        w.StartObject();
        completion_head(w, id, "chat.completion.chunk", created, call->provider->id());
        choices_and_more(w);
        w.EndObject();
        return "data: " + std::string(buf.GetString(), buf.GetSize()) + "\n\n";
      };
      auto choice = [&](json::Writer& w, const char* role, std::string_view content,
                        const char* finish) {
        json::key(w, "choices");
        w.StartArray();
        w.StartObject();
        json::key(w, "index");
        w.Int(0);
        json::key(w, "delta");
        w.StartObject();
        if (role) {
          json::key(w, "role");
          json::put(w, role);
        }
        if (role || !content.empty()) {
          json::key(w, "content");
          json::put(w, content);
        }
        w.EndObject();
        json::key(w, "finish_reason");
        finish ? json::put(w, finish) : (void)w.Null();
        w.EndObject();
        w.EndArray();
      };
      bool started = false, client_gone = false;
      // Text deltas may split a UTF-8 sequence; hold back an incomplete tail so every event is
      // valid JSON text.
      std::string pending;
      auto emit = [&](std::string_view text) {
        if (client_gone) return;
        if (!started) {
          started = true;
          if (!write(chunk([&](json::Writer& w) { choice(w, "assistant", "", nullptr); }))) {
            client_gone = true;
            return;
          }
        }
        pending.append(text);
        size_t cut = pending.size();
        // Back up over an incomplete multi-byte sequence at the end.
        for (size_t back = 1; back <= 3 && back <= pending.size(); ++back) {
          unsigned char c = pending[pending.size() - back];
          if ((c & 0xC0) == 0x80) continue;  // continuation byte
          size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
          if (need > back) cut = pending.size() - back;
          break;
        }
        if (cut == 0) return;
        std::string piece = pending.substr(0, cut);
        pending.erase(0, cut);
        if (!json::is_clean_text(piece)) return;  // never forward broken text
        if (!write(chunk([&](json::Writer& w) { choice(w, nullptr, piece, nullptr); })))
          client_gone = true;
      };
      ChatResult result;
      try {
        result = ChatService::run(*call, emit);
      } catch (const HostError& e) {
        if (!started) throw;  // nothing sent yet: an ordinary error response with its status
        // Mid-stream failure: OpenAI's convention is an error object as the last event.
        write("data: " + openai::error_json(e) + "\n\n");
        write("data: [DONE]\n\n");
        return {};
      }
      if (client_gone) return {};
      if (!started) emit("");  // an empty reply still gets its role chunk
      write(chunk([&](json::Writer& w) {
        choice(w, nullptr, "", "stop");
        write_sources(w, call->sources);
      }));
      if (include_usage)
        write(chunk([&](json::Writer& w) {
          json::key(w, "choices");
          w.StartArray();
          w.EndArray();
          json::key(w, "usage");
          write_usage(w, result);
        }));
      write("data: [DONE]\n\n");
      return {};
    };
    return r;
  });
}

}  // namespace

void install_chat_routes(HttpServer& s, RouteContext& ctx) {
  s.route("POST", "/v1/chat", access::read, [&ctx](const HttpRequest& r) { return chat(ctx, r); });
  s.route("POST", "/v1/chat/completions", access::read_openai,
          [&ctx](const HttpRequest& r) { return chat_completions(ctx, r); });
}

}  // namespace lakehost
