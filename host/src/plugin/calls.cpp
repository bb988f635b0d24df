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

// A callable as a C sink's context; the sink casts it back to `const F*`.
template <typename F>
void* sink_context(const F& f) {
  return const_cast<F*>(&f);
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
    return t().documents_scan(p_->self(), to_lh(collection), sink, sink_context(fn), e);
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

// ---- storage: batched reads -------------------------------------------------------------------

bool Storage::has_documents_get() const {
  const auto* table = &t();
  return LH_HAS_FIELD(lh_storage_backend_v1, table, documents_get) && table->documents_get;
}

bool Storage::documents_get(std::string_view collection, const std::vector<std::string>& ids,
                            const std::function<void(DocumentRecord&&)>& found) {
  if (has_documents_get()) {
    const auto& table = t();
    // Ids per call: bounds the statement while keeping round trips few.
    constexpr size_t kChunk = 1000;
    auto sink = [](void* ctx, const lh_document* d) {
      (*static_cast<const std::function<void(DocumentRecord &&)>*>(ctx))(copy_document(*d));
    };
    std::vector<lh_str> chunk;
    bool unsupported = false;
    for (size_t at = 0; at < ids.size() && !unsupported; at += kChunk) {
      chunk.clear();
      for (size_t i = at; i < std::min(ids.size(), at + kChunk); ++i)
        chunk.push_back(to_lh(ids[i]));
      lh_error err{};
      lh_status st;
      {
        auto guard = p_->call_guard();
        st = table.documents_get(p_->self(), to_lh(collection), chunk.data(), chunk.size(), sink,
                                 sink_context(found), &err);
      }
      if (st == LH_ERR_NOT_FOUND) return false;
      if (st == LH_ERR_UNSUPPORTED && at == 0)
        unsupported = true;  // nothing delivered yet: read one by one below
      else if (st != LH_OK)
        throw_plugin_error(*p_, "documents_get", st, err);
    }
    if (!unsupported) return true;
  }
  for (const auto& id : ids)
    if (auto doc = document_get(collection, id)) found(std::move(*doc));
  return true;
}

// ---- change feed ------------------------------------------------------------------------------

bool ChangeFeed::available() const {
  const auto* table = &p_->table<lh_storage_backend_v1>();
  return (p_->library().descriptor().flags & LH_FLAG_THREAD_SAFE) &&
         LH_HAS_FIELD(lh_storage_backend_v1, table, changes_wait) && table->changes_wait;
}

ChangeFeed::Wait ChangeFeed::wait(uint32_t timeout_ms,
                                  const std::function<void(const lh_change&)>& on_change,
                                  std::string* error) const {
  auto sink = [](void* ctx, const lh_change* c) {
    (*static_cast<const std::function<void(const lh_change&)>*>(ctx))(*c);
  };
  lh_error err{};
  // No call guard: available() is true only for thread-safe plugins.
  const lh_status st = p_->table<lh_storage_backend_v1>().changes_wait(
      p_->self(), timeout_ms, sink, sink_context(on_change), &err);
  if (st == LH_OK) return Wait::ok;
  if (st == LH_ERR_UNSUPPORTED) return Wait::unsupported;
  if (error) *error = err.message[0] ? err.message : "failed";
  return Wait::failed;
}

// ---- vector index -----------------------------------------------------------------------------

VectorIndex::VectorIndex(InstancePtr backend, uint32_t dimension) : p_(std::move(backend)) {
  call(*p_, "index_create", [&](lh_error* e) {
    return p_->table<lh_vector_backend_v1>().index_create(p_->self(), dimension, &index_, e);
  });
}

VectorIndex::~VectorIndex() {
  if (!index_) return;
  auto guard = p_->call_guard();
  p_->table<lh_vector_backend_v1>().index_destroy(p_->self(), index_);
}

void VectorIndex::add(const std::vector<int64_t>& labels, const std::vector<float>& vectors) {
  call(*p_, "index_add", [&](lh_error* e) {
    return p_->table<lh_vector_backend_v1>().index_add(p_->self(), index_, labels.data(),
                                                       vectors.data(), labels.size(), e);
  });
}

void VectorIndex::remove(const std::vector<int64_t>& labels) {
  call(*p_, "index_remove", [&](lh_error* e) {
    return p_->table<lh_vector_backend_v1>().index_remove(p_->self(), index_, labels.data(),
                                                          labels.size(), e);
  });
}

size_t VectorIndex::search(const float* query, size_t k, int64_t* labels, float* distances,
                           size_t* reported) const {
  size_t n = 0;
  call(*p_, "index_search", [&](lh_error* e) {
    return p_->table<lh_vector_backend_v1>().index_search(p_->self(), index_, query, k, labels,
                                                          distances, &n, e);
  });
  if (reported) *reported = n;
  return std::min(n, k);  // never trust a count beyond the arrays
}

size_t VectorIndex::size() const {
  auto guard = p_->call_guard();
  return p_->table<lh_vector_backend_v1>().index_size(p_->self(), index_);
}

// ---- scorer and chat --------------------------------------------------------------------------

uint32_t Scorer::overfetch() const {
  auto guard = p_->call_guard();
  return std::max<uint32_t>(1, p_->table<lh_retrieval_scorer_v1>().overfetch(p_->self()));
}

void Scorer::score(const lh_score_request& request,
                   const std::function<void(std::string_view, float, uint32_t)>& emit) const {
  using Emit = std::function<void(std::string_view, float, uint32_t)>;
  auto sink = [](void* ctx, lh_str id, float distance, uint32_t flags) {
    (*static_cast<const Emit*>(ctx))(from_lh(id), distance, flags);
  };
  call(*p_, "score", [&](lh_error* e) {
    return p_->table<lh_retrieval_scorer_v1>().score(p_->self(), &request, sink, sink_context(emit),
                                                     e);
  });
}

void Chat::chat(const lh_chat_request& request,
                const std::function<void(std::string_view)>& on_delta, lh_chat_usage& usage) const {
  using Delta = std::function<void(std::string_view)>;
  auto sink = [](void* ctx, lh_str text) { (*static_cast<const Delta*>(ctx))(from_lh(text)); };
  call(*p_, "chat", [&](lh_error* e) {
    return p_->table<lh_chat_provider_v1>().chat(p_->self(), &request, sink, sink_context(on_delta),
                                                 &usage, e);
  });
}

}  // namespace lakehost
