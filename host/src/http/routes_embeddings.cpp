// Embedding routes: POST /v1/embed (lakehost's shape), the OpenAI-compatible POST /v1/embeddings
// and GET /v1/models (chat and embed providers, as OpenAI lists models).
#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "http/openai_errors.h"
#include "http/request_json.h"
#include "http/routes.h"

namespace lakehost {
namespace {

using Value = rapidjson::Value;

constexpr size_t kMaxTexts = 2048;

// Rough token count for usage fields: whitespace-separated words.
uint64_t count_tokens(std::string_view s) {
  uint64_t n = 0;
  bool in = false;
  for (char c : s) {
    bool space = std::isspace(static_cast<unsigned char>(c));
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

HttpResponse embed_texts(RouteContext& ctx, const HttpRequest& req) {
  auto body = parse_body(req);
  auto model = opt_string(body, "model");
  auto inst = ctx.core.embedding.embedder(model ? &*model : nullptr);
  const Value* texts = member(body, "texts");
  if (!texts) throw bad_request("/texts is required: an array of strings");
  if (!texts->IsArray()) throw bad_request("/texts must be an array of strings");
  if (texts->Empty()) throw unprocessable("/texts must not be empty");
  if (texts->Size() > kMaxTexts)
    throw unprocessable("/texts has " + std::to_string(texts->Size()) + " entries; at most " +
                        std::to_string(kMaxTexts) + " per request");
  std::vector<std::string_view> in;
  for (rapidjson::SizeType i = 0; i < texts->Size(); ++i) {
    const auto& t = (*texts)[i];
    if (!t.IsString()) throw bad_request("/texts/" + std::to_string(i) + " must be a string");
    in.emplace_back(t.GetString(), t.GetStringLength());
  }
  const Embedded e = ctx.core.embedding.embed(inst, in);
  const uint32_t dim = e.dimension;
  const auto& vectors = e.vectors;
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "model");
  json::put(w, inst->id());
  json::key(w, "dimension");
  w.Uint(dim);
  json::key(w, "vectors");
  w.StartArray();
  for (size_t i = 0; i < in.size(); ++i) {
    w.StartArray();
    for (uint32_t j = 0; j < dim; ++j) w.Double(vectors[i * dim + j]);
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
  return ok_json(buf);
}

// OpenAI's base64 embedding: the vector's float32 values as little-endian bytes, base64-encoded
// (what OpenAI's clients decode when they ask for encoding_format "base64").
std::string base64_float32(const float* v, size_t n) {
  std::vector<unsigned char> bytes(n * sizeof(float));
  std::memcpy(bytes.data(), v, bytes.size());
  if constexpr (std::endian::native == std::endian::big)
    for (size_t i = 0; i < bytes.size(); i += sizeof(float))
      std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(i),
                   bytes.begin() + static_cast<std::ptrdiff_t>(i + sizeof(float)));
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + EVP_EncodeBlock's NUL
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                  static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(len));
  return out;
}

// Errors in OpenAI's shape (openai_errors.h), which OpenAI's clients read.
HttpResponse embeddings(RouteContext& ctx, const HttpRequest& req) {
  return openai::with_openai_errors([&]() -> HttpResponse {
    auto body = parse_body(req);
    auto model = opt_string(body, "model");
    // OpenAI clients always send a model name: use it when it names an embedder, otherwise 404
    // naming the ones there are.
    InstancePtr inst;
    const auto ids = ctx.core.embedding.embedder_ids();
    if (!model) {
      inst = ctx.core.embedding.embedder(nullptr);
    } else if (std::find(ids.begin(), ids.end(), *model) != ids.end()) {
      inst = ctx.core.embedding.embedder(&*model);
    } else {
      std::string list;
      for (const auto& id : ids) list += (list.empty() ? "" : ", ") + id;
      throw HostError(Errc::not_found, "model_not_found",
                      "/model \"" + (json::is_clean_text(*model) ? *model : std::string("?")) +
                          "\" is not an enabled embedder (enabled: " + list + ")");
    }
    const Value* input = member(body, "input");
    if (!input) throw bad_request("/input is required: a string or an array of strings");
    // OpenAI also takes token ids (an array of integers, or an array of such arrays); they only
    // mean something to OpenAI's own tokenizer, so they are refused by name.
    const auto refuse_tokens = [](const std::string& at) {
      return HostError(
          Errc::bad_request, "invalid_value",
          at + " is a token array: lakehost embeds text only; send the text as a string");
    };
    std::vector<std::string_view> in;
    if (input->IsString()) {
      in.emplace_back(input->GetString(), input->GetStringLength());
    } else if (input->IsArray()) {
      if (input->Empty()) throw unprocessable("/input must not be empty");
      if (input->Size() > kMaxTexts)
        throw unprocessable("/input has more than " + std::to_string(kMaxTexts) + " entries");
      for (rapidjson::SizeType i = 0; i < input->Size(); ++i) {
        const Value& t = (*input)[i];
        const auto numbers = [](const Value& a) {
          return std::all_of(a.Begin(), a.End(), [](const Value& x) { return x.IsNumber(); });
        };
        if (t.IsNumber() && numbers(*input)) throw refuse_tokens("/input");
        if (t.IsArray() && numbers(t)) throw refuse_tokens("/input/" + std::to_string(i));
        if (!t.IsString()) throw bad_request("/input/" + std::to_string(i) + " must be a string");
        in.emplace_back(t.GetString(), t.GetStringLength());
      }
    } else {
      throw bad_request("/input must be a string or an array of strings");
    }
    bool base64 = false;  // OpenAI's default is "float"; its clients ask for "base64" themselves
    if (auto format = opt_string(body, "encoding_format")) {
      if (*format == "base64")
        base64 = true;
      else if (*format != "float")
        throw HostError(
            Errc::bad_request, "invalid_value",
            "/encoding_format must be \"float\" or \"base64\"" +
                (json::is_clean_text(*format) ? ", not \"" + *format + "\"" : std::string()));
    }
    const uint32_t dim = embed::dimension(*inst);
    // `dimensions` asks OpenAI's text-embedding-3 models for shortened vectors. lakehost's
    // embedders are not trained for truncation (a feature-hashing or word-vector embedding cut
    // short loses arbitrary features), so only the embedder's own dimension is accepted.
    if (const Value* d = member(body, "dimensions")) {
      if (!d->IsUint64() || d->GetUint64() == 0)
        throw bad_request("/dimensions must be a positive integer");
      if (d->GetUint64() != dim)
        throw HostError(Errc::bad_request, "invalid_value",
                        "/dimensions " + std::to_string(d->GetUint64()) + " is not supported: \"" +
                            inst->id() + "\" produces " + std::to_string(dim) +
                            "-dimensional vectors only; omit dimensions or send " +
                            std::to_string(dim));
    }
    const auto vectors = ctx.core.embedding.embed(inst, in).vectors;
    uint64_t tokens = 0;
    for (auto t : in) tokens += count_tokens(t);
    rapidjson::StringBuffer buf;
    json::Writer w(buf);
    w.StartObject();
    json::key(w, "object");
    json::put(w, "list");
    json::key(w, "data");
    w.StartArray();
    for (size_t i = 0; i < in.size(); ++i) {
      w.StartObject();
      json::key(w, "object");
      json::put(w, "embedding");
      json::key(w, "index");
      w.Uint64(i);
      json::key(w, "embedding");
      if (base64) {
        json::put(w, base64_float32(&vectors[i * dim], dim));
      } else {
        w.StartArray();
        for (uint32_t j = 0; j < dim; ++j) w.Double(vectors[i * dim + j]);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
    json::key(w, "model");
    json::put(w, inst->id());
    json::key(w, "usage");
    w.StartObject();
    json::key(w, "prompt_tokens");
    w.Uint64(tokens);
    json::key(w, "total_tokens");
    w.Uint64(tokens);
    w.EndObject();
    w.EndObject();
    return ok_json(buf);
  });
}

HttpResponse models(RouteContext& ctx, const HttpRequest&) {
  auto gen = ctx.core.registry.current();
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "object");
  json::put(w, "list");
  json::key(w, "data");
  w.StartArray();
  for (const auto& p : gen->plugins()) {
    if (p->kind() != LH_KIND_CHAT_PROVIDER && p->kind() != LH_KIND_EMBED_PROVIDER) continue;
    w.StartObject();
    json::key(w, "id");
    json::put(w, p->id());
    json::key(w, "object");
    json::put(w, "model");
    json::key(w, "created");
    w.Int64(0);
    json::key(w, "owned_by");
    json::put(w, "lakehost");
    json::key(w, "kind");
    json::put(w, kind_name(p->kind()));
    json::key(w, "default");
    w.Bool(gen->default_of(p->kind()) == p);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return ok_json(buf);
}

}  // namespace

void install_embedding_routes(HttpServer& s, RouteContext& ctx) {
  s.route("POST", "/v1/embed", access::read,
          [&ctx](const HttpRequest& r) { return embed_texts(ctx, r); });
  s.route("POST", "/v1/embeddings", access::read_openai,
          [&ctx](const HttpRequest& r) { return embeddings(ctx, r); });
  s.route("GET", "/v1/models", access::read_openai,
          [&ctx](const HttpRequest& r) { return models(ctx, r); });
}

}  // namespace lakehost
