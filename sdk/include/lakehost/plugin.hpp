// lakehost C++ plugin helper — write a plugin as a class; this header turns it into the C ABI of
// plugin_api.h. Everything here is compiled INTO the plugin: no C++ type crosses the boundary.
//
//   class MyEmbedder final : public lakehost::EmbedProvider {
//    public:
//     MyEmbedder(lakehost::Host host, std::string_view config_json);  // copy what you keep
//     uint32_t dimension() const override;
//     void embed(std::span<const std::string_view> texts, float* out) override;
//   };
//   LAKEHOST_PLUGIN(MyEmbedder, "embed-mine", "1.0.0", "what it does", kConfigSchema,
//                   LH_FLAG_THREAD_SAFE)
//
// Every entry point is wrapped in a catch-all: a thrown lakehost::Error becomes its status, any
// other exception becomes LH_ERR_INTERNAL with its what(), and nothing reaches the host.
#pragma once

#include <lakehost/plugin_api.h>

#include <boost/dll/alias.hpp>

#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace lakehost {

// Throw this to return a specific status with a message.
class Error : public std::runtime_error {
 public:
  Error(lh_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  lh_status status() const noexcept { return status_; }

 private:
  lh_status status_;
};

// A NULL pointer is an empty string whatever the size says (never read past "").
inline std::string_view view(lh_str s) noexcept {
  return s.data ? std::string_view(s.data, s.size) : std::string_view();
}
inline lh_str str(std::string_view s) noexcept { return {s.data(), s.size()}; }

// The host services an instance was created with (logging, data directory, its manifest id).
// A cheap handle, valid for the instance's whole life: constructors receive a temporary, so
// keep a copy (not a reference).
class Host {
 public:
  explicit Host(const lh_host_api* api) : api_(api) {}
  void log(lh_log_level level, std::string_view message) const {
    if (api_ && api_->log) api_->log(api_->ctx, level, str(message));
  }
  void info(std::string_view m) const { log(LH_LOG_INFO, m); }
  void warn(std::string_view m) const { log(LH_LOG_WARN, m); }
  std::string data_dir() const { return api_ && api_->data_dir ? api_->data_dir : "."; }
  std::string instance_id() const { return api_ && api_->instance_id ? api_->instance_id : ""; }

 private:
  const lh_host_api* api_;
};

// ---- one abstract base per plugin kind ------------------------------------------------------

class Plugin {
 public:
  virtual ~Plugin() = default;
  // Throw to report the instance unhealthy; the message reaches GET /health.
  virtual void health() {}
};

class EmbedProvider : public Plugin {
 public:
  static constexpr lh_plugin_kind kKind = LH_KIND_EMBED_PROVIDER;
  virtual uint32_t dimension() const = 0;
  // Write texts.size() unit vectors of dimension() floats to `out` (host-owned).
  virtual void embed(std::span<const std::string_view> texts, float* out) = 0;
};

class VectorBackend : public Plugin {
 public:
  static constexpr lh_plugin_kind kKind = LH_KIND_VECTOR_BACKEND;
  class Index {
   public:
    virtual ~Index() = default;
    virtual void add(std::span<const int64_t> labels, const float* vectors) = 0;
    virtual void remove(std::span<const int64_t> labels) = 0;
    // Fill up to k entries of labels/distances (ascending cosine distance); return how many.
    virtual size_t search(const float* query, size_t k, int64_t* labels, float* distances) = 0;
    virtual size_t size() const = 0;
  };
  virtual Index* create_index(uint32_t dimension) = 0;  // caller owns (delete)
};

namespace detail {
inline std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Runs fn() inside a C sink the host calls. An exception must not unwind through the host's
// frames, so it is kept here and rethrown by rethrow() once the host's call has returned; later
// sink calls of the same host call are ignored.
struct SinkGuard {
  std::exception_ptr error;
  template <typename Fn>
  void operator()(Fn&& fn) noexcept {
    if (error) return;
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  }
  void rethrow() const {
    if (error) std::rethrow_exception(error);
  }
};
}  // namespace detail

class RetrievalScorer : public Plugin {
 public:
  static constexpr lh_plugin_kind kKind = LH_KIND_RETRIEVAL_SCORER;
  struct Result {
    std::string id;
    float distance;
    uint32_t flags;
  };
  struct Candidate {
    std::string_view id;
    float distance;  // cosine distance from the vector backend
  };
  // A recorded feedback ("playbook") entry; query_vector has the request's dimension (empty if
  // the host gave none).
  struct Feedback {
    std::string_view query;
    std::span<const float> query_vector;
    std::string_view role;
    std::string_view id;
    float score;
  };

  // The host's per-request services (valid only during score()). LH_ERR_NOT_FOUND becomes
  // nullopt; any other failure is thrown as lakehost::Error with the host's status.
  class Services {
   public:
    Services(const lh_score_services* s, uint32_t dimension) : s_(s), dimension_(dimension) {}

    // The stored unit vector (the request's dimension) of document `id`.
    std::optional<std::vector<float>> document_vector(std::string_view id) const {
      if (!s_ || !s_->document_vector) unsupported("document_vector");
      std::vector<float> out(dimension_);
      if (!found(s_->document_vector(s_->ctx, str(id), out.data()), "document_vector", id))
        return std::nullopt;
      return out;
    }
    std::optional<std::string> document_text(std::string_view id) const {
      if (!s_ || !s_->document_text) unsupported("document_text");
      return copy_out(s_->document_text, "document_text", id);
    }
    // ABI 1.3: the document's metadata, a JSON object as text ("{}" when it has none). Throws
    // LH_ERR_UNSUPPORTED when the host is older (see has_document_metadata()).
    std::optional<std::string> document_metadata(std::string_view id) const {
      if (!has_document_metadata()) unsupported("document_metadata (ABI 1.3)");
      return copy_out(s_->document_metadata, "document_metadata", id);
    }
    bool has_document_metadata() const {
      return LH_HAS_FIELD(lh_score_services, s_, document_metadata) &&
             s_->document_metadata != nullptr;
    }
    // ABI 1.1: the collection's content revision; nullopt from an older host.
    std::optional<uint64_t> revision() const {
      if (!LH_HAS_FIELD(lh_score_services, s_, revision)) return std::nullopt;
      return s_->revision;
    }
    // ABI 1.1: whether scan() is available.
    bool has_scan() const {
      return LH_HAS_FIELD(lh_score_services, s_, documents_scan) && s_->documents_scan != nullptr;
    }
    // Calls fn(id, text) once per document of the collection (views valid during the call).
    // The host holds the collection's read lock meanwhile: copy out, work after.
    void scan(const std::function<void(std::string_view id, std::string_view text)>& fn) const {
      if (!has_scan()) unsupported("documents_scan (ABI 1.1)");
      struct Ctx {
        const std::function<void(std::string_view, std::string_view)>* fn;
        detail::SinkGuard guard;
      } ctx{&fn, {}};
      auto sink = [](void* c, lh_str id, lh_str text) {
        auto* x = static_cast<Ctx*>(c);
        x->guard([&] { (*x->fn)(view(id), view(text)); });
      };
      const lh_status st = s_->documents_scan(s_->ctx, sink, &ctx);
      ctx.guard.rethrow();
      if (st != LH_OK) throw Error(st, "documents_scan failed (status " + std::to_string(st) + ")");
    }
    const lh_score_services* raw() const { return s_; }

   private:
    using TextFn = lh_status (*)(void*, lh_str, void (*)(void*, lh_str), void*);

    [[noreturn]] static void unsupported(const char* what) {
      throw Error(LH_ERR_UNSUPPORTED, std::string("the host does not provide ") + what);
    }
    static bool found(lh_status st, const char* what, std::string_view id) {
      if (st == LH_OK) return true;
      if (st == LH_ERR_NOT_FOUND) return false;
      throw Error(st, std::string(what) + "(" + detail::quoted(id) + ") failed (status " +
                          std::to_string(st) + ")");
    }
    std::optional<std::string> copy_out(TextFn fn, const char* what, std::string_view id) const {
      struct Ctx {
        std::string text;
        detail::SinkGuard guard;
      } ctx;
      auto sink = [](void* c, lh_str text) {
        auto* x = static_cast<Ctx*>(c);
        x->guard([&] { x->text.assign(view(text)); });
      };
      const lh_status st = fn(s_->ctx, str(id), sink, &ctx);
      ctx.guard.rethrow();
      if (!found(st, what, id)) return std::nullopt;
      return std::move(ctx.text);
    }

    const lh_score_services* s_;
    uint32_t dimension_;
  };

  // One search, as C++ views of the host's lh_score_request: no text or vector is copied, and
  // every view is valid only during score().
  struct ScoreRequest {
    explicit ScoreRequest(const lh_score_request& r)
        : collection(view(r.collection)),
          query(view(r.query)),
          role(view(r.role)),
          query_vector(r.query_vector ? std::span<const float>(r.query_vector, r.dimension)
                                      : std::span<const float>()),
          k(r.k),
          services(r.services, r.dimension),
          raw_(&r) {
      candidates.reserve(r.n_candidates);
      for (size_t i = 0; i < r.n_candidates; ++i)
        candidates.push_back({view(r.candidates[i].id), r.candidates[i].distance});
      feedback.reserve(r.n_feedback);
      for (size_t i = 0; i < r.n_feedback; ++i) {
        const lh_feedback& f = r.feedback[i];
        feedback.push_back({view(f.query),
                            f.query_vector ? std::span<const float>(f.query_vector, r.dimension)
                                           : std::span<const float>(),
                            view(f.role), view(f.id), f.score});
      }
    }
    std::string_view collection;
    std::string_view query;  // empty when the client searched by vector
    std::string_view role;   // empty when the client gave none
    std::span<const float> query_vector;
    uint32_t k;                         // how many results the client wants
    std::vector<Candidate> candidates;  // ascending by distance
    std::vector<Feedback> feedback;     // records of this collection the host found relevant
    Services services;
    // The C request, for anything the view does not cover.
    const lh_score_request& raw() const { return *raw_; }

   private:
    const lh_score_request* raw_;
  };

  virtual uint32_t overfetch() const { return 1; }
  virtual std::vector<Result> score(const ScoreRequest& request) = 0;
};

class ChatProvider : public Plugin {
 public:
  static constexpr lh_plugin_kind kKind = LH_KIND_CHAT_PROVIDER;
  using DeltaSink = void (*)(void*, lh_str);
  // Emit the reply through on_delta(sink_ctx, text) one or more times; fill usage.
  virtual void chat(const lh_chat_request& request, DeltaSink on_delta, void* sink_ctx,
                    lh_chat_usage& usage) = 0;
};

class StorageBackend : public Plugin {
 public:
  static constexpr lh_plugin_kind kKind = LH_KIND_STORAGE_BACKEND;
  // A stored document, viewed: valid only during the callback it is passed to.
  struct Document {
    std::string_view id;
    std::string_view text;
    std::string_view metadata_json;  // a JSON object, as text
    std::span<const float> vector;   // empty: none
  };
  // A change another writer committed (see changes_wait).
  struct Change {
    lh_change_kind kind;
    std::string_view collection;    // COLLECTION, DOCUMENT: the collection; else empty
    std::string_view key;           // DOCUMENT: the document id; KV: the key; else empty
    int64_t committed_unix_us = 0;  // by the store's clock; 0: unknown
  };
  using CollectionFn = std::function<void(std::string_view name, std::string_view settings_json)>;
  using DocumentFn = std::function<void(const Document&)>;
  using KvFn = std::function<void(std::string_view key, std::string_view value)>;
  using ChangeFn = std::function<void(const Change&)>;

  // NOT_FOUND rules (plugin_api.h): every call naming a missing collection throws
  // Error(LH_ERR_NOT_FOUND); an absent item is reported by the return value (nullopt, false),
  // which the adapter turns into LH_ERR_NOT_FOUND.
  virtual bool collection_put(std::string_view name, std::string_view settings_json) = 0;
  // The collection's settings, or nullopt if there is no such collection.
  virtual std::optional<std::string> collection_get(std::string_view name) = 0;
  // fn(name, settings_json) once per collection, ordered by name.
  virtual void collection_list(const CollectionFn& fn) = 0;
  virtual void collection_delete(std::string_view name) = 0;
  virtual void documents_upsert(std::string_view collection,
                                std::span<const lh_document> documents) = 0;
  // fn(document) once and true, or false if there is no such document (or collection).
  virtual bool document_get(std::string_view collection, std::string_view id,
                            const DocumentFn& fn) = 0;
  virtual void document_delete(std::string_view collection, std::string_view id) = 0;
  // fn(document) once per document, ordered by id.
  virtual void documents_scan(std::string_view collection, const DocumentFn& fn) = 0;
  virtual uint64_t document_count(std::string_view collection) = 0;
  virtual void kv_put(std::string_view key, std::string_view value) = 0;
  // The value, or nullopt if the key is absent.
  virtual std::optional<std::string> kv_get(std::string_view key) = 0;
  virtual void kv_delete(std::string_view key) = 0;
  // fn(key, value) for every key starting with `prefix`, ordered by key.
  virtual void kv_list(std::string_view prefix, const KvFn& fn) = 0;
  // Storage shared by several processes reports other writers' changes (see plugin_api.h).
  // The default says the store is private to this process.
  virtual void changes_wait(uint32_t /*timeout_ms*/, const ChangeFn& /*fn*/) {
    throw Error(LH_ERR_UNSUPPORTED, "storage is private to one process: no change feed");
  }
  // ABI 1.2: fn(document) for each of `ids` that exists, from one snapshot (absent ids skipped).
  // The default makes the host read them one by one with document_get.
  virtual void documents_get(std::string_view /*collection*/,
                             std::span<const std::string_view> /*ids*/, const DocumentFn& /*fn*/) {
    throw Error(LH_ERR_UNSUPPORTED, "documents_get is not implemented: use document_get");
  }
};

// ---- adapters: C entry points that call the class and never let an exception escape --------

namespace detail {

inline void set_error(lh_error* err, std::string_view message) noexcept {
  if (!err) return;
  size_t n = message.size() < LH_ERROR_MESSAGE_MAX - 1 ? message.size() : LH_ERROR_MESSAGE_MAX - 1;
  std::memcpy(err->message, message.data(), n);
  err->message[n] = '\0';
}

// Runs fn(); maps exceptions to a status and message.
template <typename Fn>
lh_status guarded(lh_error* err, Fn&& fn) noexcept {
  try {
    fn();
    return LH_OK;
  } catch (const Error& e) {
    set_error(err, e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    set_error(err, "out of memory");
    return LH_ERR_INTERNAL;
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return LH_ERR_INTERNAL;
  } catch (...) {
    set_error(err, "unknown exception");
    return LH_ERR_INTERNAL;
  }
}

template <typename T>
T* self(void* p) noexcept {
  return static_cast<T*>(p);
}

template <typename T>
lh_status create(const lh_host_api* host, lh_str config, void** out, lh_error* err) noexcept {
  return guarded(err, [&] { *out = static_cast<Plugin*>(new T(Host(host), view(config))); });
}

template <typename T>
void destroy(void* p) noexcept {
  try {
    delete static_cast<Plugin*>(p);
  } catch (...) {
  }
}

inline lh_status health(void* p, lh_error* err) noexcept {
  return guarded(err, [&] { static_cast<Plugin*>(p)->health(); });
}

inline std::vector<std::string_view> views(const lh_str* s, size_t n) {
  std::vector<std::string_view> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) v.push_back(view(s[i]));
  return v;
}

template <typename T>
struct Table;

template <typename T>
requires std::is_base_of_v<EmbedProvider, T>
struct Table<T> {
  static EmbedProvider* as(void* p) { return static_cast<EmbedProvider*>(static_cast<Plugin*>(p)); }
  static const void* get() {
    static const lh_embed_provider_v1 table = {
        sizeof(lh_embed_provider_v1),
        [](void* p) noexcept -> uint32_t {
          try {
            return as(p)->dimension();
          } catch (...) {
            return 0;
          }
        },
        [](void* p, const lh_str* texts, size_t n, float* out, lh_error* err) noexcept {
          return guarded(err, [&] {
            auto v = views(texts, n);
            as(p)->embed(v, out);
          });
        }};
    return &table;
  }
};

template <typename T>
requires std::is_base_of_v<VectorBackend, T>
struct Table<T> {
  using Index = VectorBackend::Index;
  static VectorBackend* as(void* p) { return static_cast<VectorBackend*>(static_cast<Plugin*>(p)); }
  static Index* idx(void* i) { return static_cast<Index*>(i); }
  static const void* get() {
    static const lh_vector_backend_v1 table = {
        sizeof(lh_vector_backend_v1),
        [](void* p, uint32_t dim, void** out, lh_error* err) noexcept {
          return guarded(err, [&] { *out = as(p)->create_index(dim); });
        },
        [](void*, void* i) noexcept {
          try {
            delete idx(i);
          } catch (...) {
          }
        },
        [](void*, void* i, const int64_t* labels, const float* vectors, size_t n,
           lh_error* err) noexcept {
          return guarded(err, [&] { idx(i)->add({labels, n}, vectors); });
        },
        [](void*, void* i, const int64_t* labels, size_t n, lh_error* err) noexcept {
          return guarded(err, [&] { idx(i)->remove({labels, n}); });
        },
        [](void*, void* i, const float* q, size_t k, int64_t* labels, float* distances,
           size_t* out_n, lh_error* err) noexcept {
          return guarded(err, [&] { *out_n = idx(i)->search(q, k, labels, distances); });
        },
        [](void*, void* i) noexcept -> size_t {
          try {
            return idx(i)->size();
          } catch (...) {
            return 0;
          }
        }};
    return &table;
  }
};

template <typename T>
requires std::is_base_of_v<RetrievalScorer, T>
struct Table<T> {
  static RetrievalScorer* as(void* p) {
    return static_cast<RetrievalScorer*>(static_cast<Plugin*>(p));
  }
  static const void* get() {
    static const lh_retrieval_scorer_v1 table = {
        sizeof(lh_retrieval_scorer_v1),
        [](void* p) noexcept -> uint32_t {
          try {
            return as(p)->overfetch();
          } catch (...) {
            return 1;
          }
        },
        [](void* p, const lh_score_request* req, lh_score_sink sink, void* ctx,
           lh_error* err) noexcept {
          return guarded(err, [&] {
            const RetrievalScorer::ScoreRequest request(*req);
            for (const auto& r : as(p)->score(request)) sink(ctx, str(r.id), r.distance, r.flags);
          });
        }};
    return &table;
  }
};

template <typename T>
requires std::is_base_of_v<ChatProvider, T>
struct Table<T> {
  static ChatProvider* as(void* p) { return static_cast<ChatProvider*>(static_cast<Plugin*>(p)); }
  static const void* get() {
    static const lh_chat_provider_v1 table = {
        sizeof(lh_chat_provider_v1),
        [](void* p, const lh_chat_request* req, void (*on_delta)(void*, lh_str), void* ctx,
           lh_chat_usage* usage, lh_error* err) noexcept {
          return guarded(err, [&] { as(p)->chat(*req, on_delta, ctx, *usage); });
        }};
    return &table;
  }
};

// The C sinks' shapes of the storage views. The sinks are the host's: they do not throw.
inline lh_document c_document(const StorageBackend::Document& d) noexcept {
  return {str(d.id), str(d.text), str(d.metadata_json),
          d.vector.empty() ? nullptr : d.vector.data(), static_cast<uint32_t>(d.vector.size())};
}

inline StorageBackend::DocumentFn document_sink(lh_document_sink sink, void* ctx) {
  return [sink, ctx](const StorageBackend::Document& d) {
    const lh_document doc = c_document(d);
    sink(ctx, &doc);
  };
}

template <typename T>
requires std::is_base_of_v<StorageBackend, T>
struct Table<T> {
  static StorageBackend* as(void* p) {
    return static_cast<StorageBackend*>(static_cast<Plugin*>(p));
  }
  static const void* get() {
    static const lh_storage_backend_v1 table = {
        sizeof(lh_storage_backend_v1),
        [](void* p, lh_str name, lh_str settings, int* created, lh_error* err) noexcept {
          return guarded(err, [&] {
            bool c = as(p)->collection_put(view(name), view(settings));
            if (created) *created = c ? 1 : 0;
          });
        },
        [](void* p, lh_str name, lh_collection_sink sink, void* ctx, lh_error* err) noexcept {
          return guarded(err, [&] {
            const auto settings = as(p)->collection_get(view(name));
            if (!settings) throw Error(LH_ERR_NOT_FOUND, "no collection " + quoted(view(name)));
            sink(ctx, name, str(*settings));
          });
        },
        [](void* p, lh_collection_sink sink, void* ctx, lh_error* err) noexcept {
          return guarded(err, [&] {
            as(p)->collection_list([&](std::string_view n, std::string_view settings) {
              sink(ctx, str(n), str(settings));
            });
          });
        },
        [](void* p, lh_str name, lh_error* err) noexcept {
          return guarded(err, [&] { as(p)->collection_delete(view(name)); });
        },
        [](void* p, lh_str coll, const lh_document* docs, size_t n, lh_error* err) noexcept {
          return guarded(err, [&] { as(p)->documents_upsert(view(coll), {docs, n}); });
        },
        [](void* p, lh_str coll, lh_str id, lh_document_sink sink, void* ctx,
           lh_error* err) noexcept {
          return guarded(err, [&] {
            if (!as(p)->document_get(view(coll), view(id), document_sink(sink, ctx)))
              throw Error(LH_ERR_NOT_FOUND, "no document " + quoted(view(id)) + " in collection " +
                                                quoted(view(coll)));
          });
        },
        [](void* p, lh_str coll, lh_str id, lh_error* err) noexcept {
          return guarded(err, [&] { as(p)->document_delete(view(coll), view(id)); });
        },
        [](void* p, lh_str coll, lh_document_sink sink, void* ctx, lh_error* err) noexcept {
          return guarded(err, [&] { as(p)->documents_scan(view(coll), document_sink(sink, ctx)); });
        },
        [](void* p, lh_str coll, uint64_t* out, lh_error* err) noexcept {
          return guarded(err, [&] { *out = as(p)->document_count(view(coll)); });
        },
        [](void* p, lh_str key, lh_str value, lh_error* err) noexcept {
          return guarded(err, [&] { as(p)->kv_put(view(key), view(value)); });
        },
        [](void* p, lh_str key, lh_bytes_sink sink, void* ctx, lh_error* err) noexcept {
          return guarded(err, [&] {
            const auto value = as(p)->kv_get(view(key));
            if (!value) throw Error(LH_ERR_NOT_FOUND, "no key " + quoted(view(key)));
            sink(ctx, str(*value));
          });
        },
        [](void* p, lh_str key, lh_error* err) noexcept {
          return guarded(err, [&] { as(p)->kv_delete(view(key)); });
        },
        [](void* p, lh_str prefix, lh_kv_sink sink, void* ctx, lh_error* err) noexcept {
          return guarded(err, [&] {
            as(p)->kv_list(view(prefix), [&](std::string_view k, std::string_view v) {
              sink(ctx, str(k), str(v));
            });
          });
        },
        [](void* p, uint32_t timeout_ms, lh_change_sink sink, void* ctx, lh_error* err) noexcept {
          return guarded(err, [&] {
            as(p)->changes_wait(timeout_ms, [&](const StorageBackend::Change& c) {
              const lh_change change{sizeof(lh_change), static_cast<uint32_t>(c.kind),
                                     str(c.collection), str(c.key), c.committed_unix_us};
              sink(ctx, &change);
            });
          });
        },
        [](void* p, lh_str coll, const lh_str* ids, size_t n, lh_document_sink sink, void* ctx,
           lh_error* err) noexcept {
          return guarded(err, [&] {
            const auto v = views(ids, n);
            as(p)->documents_get(view(coll), v, document_sink(sink, ctx));
          });
        }};
    return &table;
  }
};

#define LAKEHOST_STRINGIFY2(x) #x
#define LAKEHOST_STRINGIFY(x) LAKEHOST_STRINGIFY2(x)

// Compiler and C++ runtime, recorded in the descriptor for diagnostics.
inline constexpr const char* kBuildInfo =
#if defined(__clang__)
    "clang " __clang_version__
#elif defined(__GNUC__)
    "gcc " LAKEHOST_STRINGIFY(__GNUC__) "." LAKEHOST_STRINGIFY(__GNUC_MINOR__)
#else
    "unknown compiler"
#endif
#if defined(_GLIBCXX_RELEASE)
    ", libstdc++ " LAKEHOST_STRINGIFY(_GLIBCXX_RELEASE)
#elif defined(_LIBCPP_VERSION)
        ", libc++ " LAKEHOST_STRINGIFY(_LIBCPP_VERSION)
#endif
    ;

template <typename T>
const lh_plugin_descriptor* make_descriptor(const char* name, const char* version,
                                            const char* description, const char* schema,
                                            uint32_t flags) {
  static const lh_plugin_descriptor d = {sizeof(lh_plugin_descriptor),
                                         LH_ABI_MAJOR,
                                         LH_ABI_MINOR,
                                         T::kKind,
                                         flags,
                                         name,
                                         version,
                                         description,
                                         schema,
                                         kBuildInfo,
                                         &create<T>,
                                         &destroy<T>,
                                         &health,
                                         Table<T>::get()};
  return &d;
}

}  // namespace detail
}  // namespace lakehost

// Defines the plugin's entry point for class CLASS and exports it as LH_PLUGIN_ENTRY_SYMBOL.
// Use once per plugin library, at namespace scope.
#define LAKEHOST_PLUGIN(CLASS, NAME, VERSION, DESCRIPTION, CONFIG_SCHEMA, FLAGS)                 \
  namespace lakehost_entry {                                                                     \
  const lh_plugin_descriptor* lakehost_descriptor() {                                            \
    return ::lakehost::detail::make_descriptor<CLASS>(NAME, VERSION, DESCRIPTION, CONFIG_SCHEMA, \
                                                      FLAGS);                                    \
  }                                                                                              \
  BOOST_DLL_ALIAS(lakehost_entry::lakehost_descriptor, lakehost_plugin)                          \
  }
