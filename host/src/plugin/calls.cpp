#include "plugin/calls.h"

#include "plugin/failures.h"

namespace lakehost {

void throw_plugin_error(const PluginInstance& p, const char* op, lh_status st,
                        const lh_error& err) {
  std::string msg = "plugin \"" + p.id() + "\" " + op + ": " +
                    (err.message[0] ? std::string(err.message) : "failed");
  // Failures of the plugin or its upstream (not of the client's request) reach the log too,
  // rate-limited per plugin, so an outage is visible without a client reporting it.
  if (st != LH_ERR_INVALID_ARGUMENT && st != LH_ERR_NOT_FOUND && st != LH_ERR_CONFLICT &&
      st != LH_ERR_UNSUPPORTED)
    log_plugin_failure(p, op, st, msg);
  switch (st) {
    case LH_ERR_INVALID_ARGUMENT:
      throw HostError(Errc::invalid_argument, "invalid_argument", msg);
    case LH_ERR_NOT_FOUND:
      throw HostError(Errc::not_found, "not_found", msg);
    case LH_ERR_CONFLICT:
      throw HostError(Errc::conflict, "conflict", msg);
    case LH_ERR_UNAVAILABLE:
      // The database behind a storage backend is not a model server: operators page different
      // people for the two, so clients and alerts must be able to tell them apart.
      if (p.kind() == LH_KIND_STORAGE_BACKEND)
        throw HostError(Errc::unavailable, "storage_unavailable", msg);
      throw HostError(Errc::unavailable, "upstream_unavailable", msg);
    case LH_ERR_UNSUPPORTED:
      throw HostError(Errc::unsupported, "unsupported", msg);
    default:
      throw HostError(Errc::internal, "plugin_error", msg);
  }
}

namespace {
template <typename Fn>
void call(const PluginInstance& p, const char* op, Fn&& fn) {
  lh_error err{};
  lh_status st;
  {
    auto guard = p.call_guard();
    st = fn(&err);
  }
  if (st != LH_OK) throw_plugin_error(p, op, st, err);
}

// Like call(), but LH_ERR_NOT_FOUND is an answer (false), not an error.
template <typename Fn>
bool call_found(const PluginInstance& p, const char* op, Fn&& fn) {
  lh_error err{};
  lh_status st;
  {
    auto guard = p.call_guard();
    st = fn(&err);
  }
  if (st == LH_ERR_NOT_FOUND) return false;
  if (st != LH_OK) throw_plugin_error(p, op, st, err);
  return true;
}

}  // namespace

DocumentRecord copy_document(const lh_document& d) {
  DocumentRecord r;
  r.id = from_lh(d.id);
  r.text = from_lh(d.text);
  r.metadata_json = d.metadata_json.size ? std::string(from_lh(d.metadata_json)) : "{}";
  if (d.vector && d.dimension) r.vector.assign(d.vector, d.vector + d.dimension);
  return r;
}

namespace embed {
uint32_t dimension(const PluginInstance& p) {
  auto guard = p.call_guard();
  return p.table<lh_embed_provider_v1>().dimension(p.self());
}

std::vector<float> run(const PluginInstance& p, const std::vector<std::string_view>& texts) {
  const uint32_t dim = dimension(p);
  std::vector<lh_str> in;
  in.reserve(texts.size());
  for (auto t : texts) in.push_back(to_lh(t));
  std::vector<float> out(texts.size() * dim);
  call(p, "embed", [&](lh_error* e) {
    return p.table<lh_embed_provider_v1>().embed(p.self(), in.data(), in.size(), out.data(), e);
  });
  return out;
}

void documents(const PluginInstance& p, std::vector<DocumentRecord>& docs) {
  const uint32_t dim = dimension(p);
  constexpr size_t kBatch = 256;  // bounded request size for upstream embedders
  for (size_t i = 0; i < docs.size(); i += kBatch) {
    const size_t n = std::min(kBatch, docs.size() - i);
    std::vector<std::string_view> texts;
    for (size_t j = 0; j < n; ++j) texts.push_back(docs[i + j].text);
    auto v = run(p, texts);
    for (size_t j = 0; j < n; ++j)
      docs[i + j].vector.assign(v.begin() + j * dim, v.begin() + (j + 1) * dim);
  }
}
}  // namespace embed

bool Storage::collection_put(std::string_view name, std::string_view settings) {
  int created = 0;
  call(*p_, "collection_put", [&](lh_error* e) {
    return t().collection_put(p_->self(), to_lh(name), to_lh(settings), &created, e);
  });
  return created != 0;
}

std::optional<std::string> Storage::collection_get(std::string_view name) {
  std::string out;
  auto sink = [](void* ctx, lh_str, lh_str settings) {
    *static_cast<std::string*>(ctx) = from_lh(settings);
  };
  if (!call_found(*p_, "collection_get", [&](lh_error* e) {
        return t().collection_get(p_->self(), to_lh(name), sink, &out, e);
      }))
    return std::nullopt;
  return out;
}

std::vector<std::pair<std::string, std::string>> Storage::collection_list() {
  std::vector<std::pair<std::string, std::string>> out;
  auto sink = [](void* ctx, lh_str name, lh_str settings) {
    static_cast<decltype(out)*>(ctx)->emplace_back(from_lh(name), from_lh(settings));
  };
  call(*p_, "collection_list",
       [&](lh_error* e) { return t().collection_list(p_->self(), sink, &out, e); });
  return out;
}

bool Storage::collection_delete(std::string_view name) {
  return call_found(*p_, "collection_delete",
                    [&](lh_error* e) { return t().collection_delete(p_->self(), to_lh(name), e); });
}

void Storage::documents_upsert(std::string_view collection,
                               const std::vector<DocumentRecord>& docs) {
  std::vector<lh_document> in;
  in.reserve(docs.size());
  for (const auto& d : docs) {
    in.push_back({to_lh(d.id), to_lh(d.text), to_lh(d.metadata_json),
                  d.vector.empty() ? nullptr : d.vector.data(),
                  static_cast<uint32_t>(d.vector.size())});
  }
  call(*p_, "documents_upsert", [&](lh_error* e) {
    return t().documents_upsert(p_->self(), to_lh(collection), in.data(), in.size(), e);
  });
}

std::optional<DocumentRecord> Storage::document_get(std::string_view collection,
                                                    std::string_view id) {
  DocumentRecord out;
  auto sink = [](void* ctx, const lh_document* d) {
    *static_cast<DocumentRecord*>(ctx) = copy_document(*d);
  };
  if (!call_found(*p_, "document_get", [&](lh_error* e) {
        return t().document_get(p_->self(), to_lh(collection), to_lh(id), sink, &out, e);
      }))
    return std::nullopt;
  return out;
}

bool Storage::document_delete(std::string_view collection, std::string_view id) {
  return call_found(*p_, "document_delete", [&](lh_error* e) {
    return t().document_delete(p_->self(), to_lh(collection), to_lh(id), e);
  });
}

void Storage::documents_scan(std::string_view collection,
                             const std::function<void(const lh_document&)>& fn) {
  auto sink = [](void* ctx, const lh_document* d) {
    (*static_cast<const std::function<void(const lh_document&)>*>(ctx))(*d);
  };
  call(*p_, "documents_scan", [&](lh_error* e) {
    return t().documents_scan(p_->self(), to_lh(collection), sink,
                              const_cast<std::function<void(const lh_document&)>*>(&fn), e);
  });
}

uint64_t Storage::document_count(std::string_view collection) {
  uint64_t n = 0;
  call(*p_, "document_count",
       [&](lh_error* e) { return t().document_count(p_->self(), to_lh(collection), &n, e); });
  return n;
}

void Storage::kv_put(std::string_view key, std::string_view value) {
  call(*p_, "kv_put",
       [&](lh_error* e) { return t().kv_put(p_->self(), to_lh(key), to_lh(value), e); });
}

std::optional<std::string> Storage::kv_get(std::string_view key) {
  std::string out;
  auto sink = [](void* ctx, lh_str b) { *static_cast<std::string*>(ctx) = from_lh(b); };
  if (!call_found(*p_, "kv_get",
                  [&](lh_error* e) { return t().kv_get(p_->self(), to_lh(key), sink, &out, e); }))
    return std::nullopt;
  return out;
}

bool Storage::kv_delete(std::string_view key) {
  return call_found(*p_, "kv_delete",
                    [&](lh_error* e) { return t().kv_delete(p_->self(), to_lh(key), e); });
}

std::vector<std::pair<std::string, std::string>> Storage::kv_list(std::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  auto sink = [](void* ctx, lh_str k, lh_str v) {
    static_cast<decltype(out)*>(ctx)->emplace_back(from_lh(k), from_lh(v));
  };
  call(*p_, "kv_list",
       [&](lh_error* e) { return t().kv_list(p_->self(), to_lh(prefix), sink, &out, e); });
  return out;
}

}  // namespace lakehost
