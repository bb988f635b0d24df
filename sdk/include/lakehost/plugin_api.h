/*
 * lakehost plugin ABI — the whole contract between the lakehost host and a plugin library.
 *
 * A plugin is a shared object that exports ONE symbol, LH_PLUGIN_ENTRY_SYMBOL ("lakehost_plugin"),
 * in either of two forms, which the host tells apart by the symbol's ELF type:
 *  - a C function:  LH_PLUGIN_EXPORT const lh_plugin_descriptor* lakehost_plugin(void) { ... }
 *  - a variable holding the address of such a function, as BOOST_DLL_ALIAS makes it (what
 *    plugin.hpp's LAKEHOST_PLUGIN macro does).
 * That function is the only plugin code the host runs before it has checked the ABI version.
 * Everything else is reached through the descriptor. The SDK's lakehost_add_plugin() checks at
 * build time that the library exports the symbol in one of these forms.
 *
 * Rules that hold for every call in this file:
 *  - Only plain C types cross the boundary. No C++ classes, STL types, exceptions or RTTI.
 *    A C++ exception escaping into the host terminates it: catch everything (plugin.hpp does).
 *  - Every versioned struct starts with `struct_size`. New fields are only ever appended; the
 *    reader uses a field only if struct_size covers it. ABI major = breaking, minor = additive.
 *  - Ownership: the HOST owns every buffer it passes in; pointers it passes are valid only for
 *    the duration of the call. Variable-size results come back through sink callbacks whose
 *    arguments are valid only during the sink call (the host copies them). The plugin never
 *    frees host memory and the host never frees plugin memory.
 *  - Strings are UTF-8 byte ranges (lh_str), NOT NUL-terminated unless a field says so.
 *  - Every fallible call returns lh_status and fills the host-owned lh_error on failure.
 */
#ifndef LAKEHOST_PLUGIN_API_H
#define LAKEHOST_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version this header describes. The host loads a plugin only if the plugin's major equals
 * the host's and the plugin's minor is <= the host's (the host knows every field it may use).
 * History: 1.0 first release. 1.1 appended lh_score_services.revision/documents_scan (scorers
 * that keep their own per-collection index, e.g. BM25) and lh_storage_backend_v1.changes_wait
 * (storage shared by several host replicas). 1.2 appended lh_change.committed_unix_us (how far
 * behind a replica is) and lh_storage_backend_v1.documents_get (a replica re-reads many changed
 * documents in one call). 1.3 appended lh_score_services.document_metadata (scorers that rank by
 * a document's metadata: recency, seniority), and create() receives the config with the schema's
 * defaults filled in.
 *
 * Every member of a versioned struct below is marked where it is declared:
 *   [required since 1.N]  present in every struct of that kind; a function pointer is non-NULL.
 *   [optional since 1.N]  read only if struct_size covers it (LH_HAS_FIELD) and, for a function
 *                         pointer, it is not NULL; the reader falls back as the comment says.
 * A field "since 1.N" with N > 0 is absent from a struct written by a 1.(N-1) peer: check it. */
#define LH_ABI_MAJOR 1
#define LH_ABI_MINOR 3

/* Whether the versioned struct `*ptr` of C type `type` (whose first member is struct_size) is
 * large enough to hold `member`, i.e. whether its writer knew that member. The only correct way
 * to read a member appended after 1.0; e.g.
 *   if (LH_HAS_FIELD(lh_score_services, s, document_metadata) && s->document_metadata) ... */
#define LH_HAS_FIELD(type, ptr, member) \
  ((ptr) != NULL && (size_t)(ptr)->struct_size >= LH_SIZE_THROUGH(type, member))

/* The struct_size a `type` must have to hold `member`: its offset plus its size. */
#define LH_SIZE_THROUGH(type, member) (offsetof(type, member) + sizeof(((const type*)0)->member))

/* Name of the exported entry: the descriptor function, or a variable pointing to it. */
#define LH_PLUGIN_ENTRY_SYMBOL "lakehost_plugin"

/* Marks the plain C entry function for export (plugins build with -fvisibility=hidden). */
#if defined(__cplusplus)
#define LH_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define LH_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------------------------------------
 * Basic types
 * ------------------------------------------------------------------------------------------- */

/* A borrowed byte range. Valid only as long as the call (or sink call) that carries it. */
typedef struct lh_str {
  const char* data;
  size_t size;
} lh_str;

typedef enum lh_status {
  LH_OK = 0,
  LH_ERR_INVALID_ARGUMENT = 1, /* the input is wrong (bad config, bad dimension, ...) */
  LH_ERR_NOT_FOUND = 2,        /* the named collection / document / key does not exist */
  LH_ERR_CONFLICT = 3,         /* the operation conflicts with existing state */
  LH_ERR_UNAVAILABLE = 4,      /* an upstream server or resource is unreachable; retry later */
  LH_ERR_UNSUPPORTED = 5,      /* this plugin does not implement the operation */
  LH_ERR_INTERNAL = 6          /* anything else: a bug or an unexpected failure */
} lh_status;

/* Error out-parameter. Host-owned, fixed size forever (not versioned): the plugin writes a
 * NUL-terminated message (truncated to fit) when it returns a status other than LH_OK. */
#define LH_ERROR_MESSAGE_MAX 512
typedef struct lh_error {
  char message[LH_ERROR_MESSAGE_MAX];
} lh_error;

typedef enum lh_plugin_kind {
  LH_KIND_EMBED_PROVIDER = 1,   /* text -> unit-length vectors */
  LH_KIND_VECTOR_BACKEND = 2,   /* nearest-neighbour indexes over unit vectors */
  LH_KIND_RETRIEVAL_SCORER = 3, /* re-scores vector candidates (cosine, playbooks, hybrid) */
  LH_KIND_CHAT_PROVIDER = 4,    /* chat completion (streamed as text deltas) */
  LH_KIND_STORAGE_BACKEND = 5   /* durable collections, documents and key/value */
} lh_plugin_kind;

typedef enum lh_log_level {
  LH_LOG_DEBUG = 0,
  LH_LOG_INFO = 1,
  LH_LOG_WARN = 2,
  LH_LOG_ERROR = 3
} lh_log_level;

/* ---------------------------------------------------------------------------------------------
 * Host services, handed to create(). Host-owned; valid until the instance is destroyed.
 * Plugins reach the host only through this table, never through globals.
 * ------------------------------------------------------------------------------------------- */
typedef struct lh_host_api {
  uint32_t struct_size; /* [required since 1.0] sizeof(lh_host_api) the host was built with */
  void* ctx;            /* [required since 1.0] opaque, pass back to each call */
  /* [required since 1.0] Writes one log line, attributed to this instance. Thread-safe. */
  void (*log)(void* ctx, lh_log_level level, lh_str message);
  /* [required since 1.0] The host's data directory (NUL-terminated, absolute). Relative paths in
   * a plugin's config (a database file, a model file) are meant to be resolved against it. */
  const char* data_dir;
  /* [required since 1.0] The manifest id of this instance (NUL-terminated), for log and error
   * messages. */
  const char* instance_id;
} lh_host_api;

/* ---------------------------------------------------------------------------------------------
 * Embed provider (LH_KIND_EMBED_PROVIDER)
 * ------------------------------------------------------------------------------------------- */
typedef struct lh_embed_provider_v1 {
  uint32_t struct_size; /* [required since 1.0] sizeof(lh_embed_provider_v1) the plugin knew */
  /* [required since 1.0] Dimension of every vector this instance produces. Fixed for the instance's lifetime
   * (a provider that must ask a server learns it in create()). */
  uint32_t (*dimension)(void* self);
  /* [required since 1.0] Embeds texts[0..n). `out` is host-owned, n * dimension() floats, row-major; the plugin
   * writes one L2-normalised (unit-length) vector per text. Must be deterministic for a given
   * instance and text: the host caches results. */
  lh_status (*embed)(void* self, const lh_str* texts, size_t n, float* out, lh_error* err);
} lh_embed_provider_v1;

/* ---------------------------------------------------------------------------------------------
 * Vector backend (LH_KIND_VECTOR_BACKEND)
 *
 * An instance creates any number of indexes (one per collection). Labels are host-chosen int64
 * ids. Distances are cosine distances, 1 - cos(a, b), in [0, 2], for the unit vectors the host
 * adds. Concurrency contract: the host may call index_search concurrently on one index, but
 * never concurrently with index_add / index_remove on that index (it holds a reader/writer lock).
 * ------------------------------------------------------------------------------------------- */
typedef struct lh_vector_backend_v1 {
  uint32_t struct_size; /* [required since 1.0] sizeof(lh_vector_backend_v1) the plugin knew */
  /* [required since 1.0] Creates an empty index for vectors of `dimension` floats; *out_index is the plugin's. */
  lh_status (*index_create)(void* self, uint32_t dimension, void** out_index, lh_error* err);
  /* [required since 1.0] Frees an index made by index_create. Never fails. */
  void (*index_destroy)(void* self, void* index);
  /* [required since 1.0] Adds n vectors (n * dimension floats, host-owned) under labels[0..n). The host never adds
   * a label that is already present without removing it first. */
  lh_status (*index_add)(void* self, void* index, const int64_t* labels, const float* vectors,
                         size_t n, lh_error* err);
  /* [required since 1.0] Removes labels[0..n); labels that are absent are ignored. */
  lh_status (*index_remove)(void* self, void* index, const int64_t* labels, size_t n,
                            lh_error* err);
  /* [required since 1.0] Writes up to k nearest labels and their distances (ascending) into the host-owned arrays of
   * k entries each, and their number into *out_n. */
  lh_status (*index_search)(void* self, void* index, const float* query, size_t k,
                            int64_t* out_labels, float* out_distances, size_t* out_n,
                            lh_error* err);
  /* [required since 1.0] Number of live vectors in the index. */
  size_t (*index_size)(void* self, void* index);
} lh_vector_backend_v1;

/* ---------------------------------------------------------------------------------------------
 * Retrieval scorer (LH_KIND_RETRIEVAL_SCORER)
 *
 * The host embeds the query, asks the vector backend for candidates (over-fetched), then hands
 * them to the scorer, which emits the final (id, distance, flags) list through a sink. The host
 * sorts what was emitted by ascending distance and keeps the first k.
 * ------------------------------------------------------------------------------------------- */
#define LH_RESULT_BOOSTED 0x1u  /* the distance was lowered by recorded feedback */
#define LH_RESULT_INJECTED 0x2u /* the id was not among the vector candidates */

typedef struct lh_candidate {
  lh_str id;      /* document id */
  float distance; /* cosine distance from the vector backend */
} lh_candidate;

/* A recorded feedback ("playbook") entry the host passes to the scorer. */
typedef struct lh_feedback {
  lh_str query;              /* the query it was recorded for */
  const float* query_vector; /* that query embedded by the collection's embedder (dimension) */
  lh_str role;               /* role it was recorded under */
  lh_str id;                 /* document id it refers to */
  float score;               /* in [0, 1] */
} lh_feedback;

/* Per-request host services for a scorer. Valid only during score(). */
typedef struct lh_score_services {
  uint32_t struct_size; /* [required since 1.0] sizeof(lh_score_services) the host knew */
  void* ctx;            /* [required since 1.0] pass back to each call */
  /* [required since 1.0] Copies the stored unit vector of document `id` (request's collection) into `out`
   * (dimension floats). LH_ERR_NOT_FOUND if there is no such document. */
  lh_status (*document_vector)(void* ctx, lh_str id, float* out);
  /* [required since 1.0] Passes the stored text of document `id` to `sink` (valid during the
   * sink call). LH_ERR_NOT_FOUND if there is no such document. */
  lh_status (*document_text)(void* ctx, lh_str id, void (*sink)(void* sink_ctx, lh_str text),
                             void* sink_ctx);
  /* --- ABI 1.1 (read only if struct_size covers them) --- */
  /* [optional since 1.1] Content revision of the request's collection, unique across the host process's life: two
   * requests seeing the same revision see the same documents. A scorer that keeps derived
   * state per collection (an inverted index) rebuilds it when the revision changes. */
  uint64_t revision;
  /* [optional since 1.1] Calls sink once per document of the collection (id and text, valid during the sink call),
   * in no particular order. The host holds the collection's read lock meanwhile: keep it brief
   * and do not call back into the services from the sink. */
  lh_status (*documents_scan)(void* ctx, void (*sink)(void* sink_ctx, lh_str id, lh_str text),
                              void* sink_ctx);
  /* --- ABI 1.3 --- */
  /* [optional since 1.3] Passes the stored metadata of document `id` (a JSON object, as text,
   * "{}" when it has none) to `sink` (valid during the sink call). LH_ERR_NOT_FOUND if there is
   * no such document. A host older than 1.3 lacks it: such a scorer must rank without metadata
   * or refuse in create() (it cannot tell the host's version there; check per request). */
  lh_status (*document_metadata)(void* ctx, lh_str id,
                                 void (*sink)(void* sink_ctx, lh_str metadata_json),
                                 void* sink_ctx);
} lh_score_services;

/* Every member [required since 1.0]. */
typedef struct lh_score_request {
  uint32_t struct_size; /* sizeof(lh_score_request) the host knew */
  lh_str collection;
  lh_str query; /* empty when the client searched by vector */
  lh_str role;  /* empty when the client gave none */
  const float* query_vector;
  uint32_t dimension;
  uint32_t k;                     /* how many results the client wants */
  const lh_candidate* candidates; /* ascending by distance */
  size_t n_candidates;
  const lh_feedback* feedback; /* records of this collection the host found relevant */
  size_t n_feedback;
  const lh_score_services* services; /* never NULL */
} lh_score_request;

/* Receives one scored result. `id` is valid only during the call. */
typedef void (*lh_score_sink)(void* sink_ctx, lh_str id, float distance, uint32_t flags);

typedef struct lh_retrieval_scorer_v1 {
  uint32_t struct_size; /* [required since 1.0] sizeof(lh_retrieval_scorer_v1) the plugin knew */
  /* [required since 1.0] How many candidates to fetch per requested result (>= 1). The host fetches
   * k * overfetch candidates from the vector backend. */
  uint32_t (*overfetch)(void* self);
  /* [required since 1.0] Scores one request. Called concurrently only if the plugin declares LH_FLAG_THREAD_SAFE. */
  lh_status (*score)(void* self, const lh_score_request* request, lh_score_sink sink,
                     void* sink_ctx, lh_error* err);
} lh_retrieval_scorer_v1;

/* ---------------------------------------------------------------------------------------------
 * Chat provider (LH_KIND_CHAT_PROVIDER)
 * ------------------------------------------------------------------------------------------- */
typedef struct lh_chat_message {
  lh_str role; /* "system", "user", "assistant" */
  lh_str content;
} lh_chat_message;

/* Every member [required since 1.0]. */
typedef struct lh_chat_request {
  uint32_t struct_size; /* sizeof(lh_chat_request) the host knew */
  const lh_chat_message* messages;
  size_t n_messages;
  lh_str model;       /* empty: the instance's configured model */
  float temperature;  /* < 0: provider default */
  int32_t max_tokens; /* <= 0: provider default */
} lh_chat_request;

/* Every member [required since 1.0]. */
typedef struct lh_chat_usage {
  uint32_t struct_size; /* sizeof(lh_chat_usage) the host knew */
  uint64_t prompt_tokens;
  uint64_t completion_tokens;
} lh_chat_usage;

typedef struct lh_chat_provider_v1 {
  uint32_t struct_size; /* [required since 1.0] sizeof(lh_chat_provider_v1) the plugin knew */
  /* [required since 1.0] Produces the assistant's reply as a sequence of text deltas through `on_delta` (one call
   * with the whole text is fine for a non-streaming upstream). `usage` is host-owned. */
  lh_status (*chat)(void* self, const lh_chat_request* request,
                    void (*on_delta)(void* sink_ctx, lh_str text), void* sink_ctx,
                    lh_chat_usage* usage, lh_error* err);
} lh_chat_provider_v1;

/* ---------------------------------------------------------------------------------------------
 * Storage backend (LH_KIND_STORAGE_BACKEND)
 *
 * Durable state: collections (name + host-defined JSON settings), documents (id, text, JSON
 * metadata and an optional vector the host derived from the text) and key/value bytes.
 * Durability contract: when a write call returns LH_OK, the write survives a crash (kill -9).
 * documents_upsert is all-or-nothing. Every call that names a collection returns
 * LH_ERR_NOT_FOUND when that collection does not exist (scan and count included).
 * All calls may be made concurrently from many threads (the plugin declares LH_FLAG_THREAD_SAFE;
 * without it the host serialises them).
 * ------------------------------------------------------------------------------------------- */
typedef struct lh_document {
  lh_str id;
  lh_str text;
  lh_str metadata_json; /* a JSON object, as text */
  const float* vector;  /* may be NULL (dimension 0) */
  uint32_t dimension;
} lh_document;

typedef void (*lh_collection_sink)(void* sink_ctx, lh_str name, lh_str settings_json);
typedef void (*lh_document_sink)(void* sink_ctx, const lh_document* document);
typedef void (*lh_bytes_sink)(void* sink_ctx, lh_str bytes);
typedef void (*lh_kv_sink)(void* sink_ctx, lh_str key, lh_str value);

/* A change another writer committed to shared storage (ABI 1.1, see changes_wait). */
typedef enum lh_change_kind {
  LH_CHANGE_COLLECTION = 1, /* collection created, its settings replaced, or deleted */
  LH_CHANGE_DOCUMENT = 2,   /* document `key` of `collection` upserted or deleted */
  LH_CHANGE_KV = 3,         /* key/value `key` put or deleted */
  LH_CHANGE_RESYNC = 4      /* changes may have been missed (e.g. a reconnect): re-read all */
} lh_change_kind;

typedef struct lh_change {
  uint32_t struct_size; /* [required since 1.1] sizeof(lh_change) the plugin knew */
  uint32_t kind;        /* [required since 1.1] lh_change_kind */
  lh_str collection;    /* [required since 1.1] COLLECTION, DOCUMENT: the collection; else empty */
  lh_str key; /* [required since 1.1] DOCUMENT: the document id; KV: the key; otherwise empty */
  /* --- ABI 1.2 (read only if struct_size covers it) --- */
  /* [optional since 1.2] When the writer made the change, microseconds since the Unix epoch by the STORE's clock
   * (0: unknown). The host reports how far behind it is from it. */
  int64_t committed_unix_us;
} lh_change;
typedef void (*lh_change_sink)(void* sink_ctx, const lh_change* change);

typedef struct lh_storage_backend_v1 {
  uint32_t struct_size; /* [required since 1.0] sizeof(lh_storage_backend_v1) the plugin knew */
  /* Every function from here to kv_list is [required since 1.0]. */
  /* Creates the collection or replaces its settings; *created = 1 if it did not exist. */
  lh_status (*collection_put)(void* self, lh_str name, lh_str settings_json, int* created,
                              lh_error* err);
  /* Calls sink once with the collection's settings, or returns LH_ERR_NOT_FOUND. */
  lh_status (*collection_get)(void* self, lh_str name, lh_collection_sink sink, void* sink_ctx,
                              lh_error* err);
  /* Calls sink once per collection, ordered by name. */
  lh_status (*collection_list)(void* self, lh_collection_sink sink, void* sink_ctx, lh_error* err);
  /* Deletes the collection and all its documents. LH_ERR_NOT_FOUND if absent. */
  lh_status (*collection_delete)(void* self, lh_str name, lh_error* err);
  /* Inserts or replaces documents[0..n) in one transaction: all or nothing.
   * LH_ERR_NOT_FOUND if the collection does not exist. */
  lh_status (*documents_upsert)(void* self, lh_str collection, const lh_document* documents,
                                size_t n, lh_error* err);
  /* Calls sink once with the document, or returns LH_ERR_NOT_FOUND. */
  lh_status (*document_get)(void* self, lh_str collection, lh_str id, lh_document_sink sink,
                            void* sink_ctx, lh_error* err);
  /* Deletes one document. LH_ERR_NOT_FOUND if absent. */
  lh_status (*document_delete)(void* self, lh_str collection, lh_str id, lh_error* err);
  /* Calls sink once per document of the collection, ordered by id. */
  lh_status (*documents_scan)(void* self, lh_str collection, lh_document_sink sink, void* sink_ctx,
                              lh_error* err);
  /* Number of documents in the collection. */
  lh_status (*document_count)(void* self, lh_str collection, uint64_t* out_count, lh_error* err);
  /* Key/value bytes. kv_get returns LH_ERR_NOT_FOUND for an absent key; kv_delete too. */
  lh_status (*kv_put)(void* self, lh_str key, lh_str value, lh_error* err);
  lh_status (*kv_get)(void* self, lh_str key, lh_bytes_sink sink, void* sink_ctx, lh_error* err);
  lh_status (*kv_delete)(void* self, lh_str key, lh_error* err);
  /* Calls sink for every key starting with `prefix`, ordered by key. */
  lh_status (*kv_list)(void* self, lh_str prefix, lh_kv_sink sink, void* sink_ctx, lh_error* err);
  /* --- ABI 1.1 --- */
  /* [optional since 1.1] Waits up to timeout_ms for writes that OTHER writers (another host replica on the same
   * database) committed, and reports each through sink, in commit order. Writes made through
   * this instance are not reported. Returns LH_OK on timeout with nothing to report and
   * LH_ERR_UNSUPPORTED when the store is private to one process (SQLite): the host then stops
   * asking. The host calls it from one dedicated thread, never concurrently with itself. */
  lh_status (*changes_wait)(void* self, uint32_t timeout_ms, lh_change_sink sink, void* sink_ctx,
                            lh_error* err);
  /* --- ABI 1.2 --- */
  /* [optional since 1.2; absent or NULL: the host reads one by one with document_get]
   * Calls sink once per document of ids[0..n) that exists, in any order, all read from one
   * snapshot of the store; absent ids are skipped. LH_ERR_NOT_FOUND if the collection does not
   * exist; LH_ERR_UNSUPPORTED makes the host fall back to document_get. */
  lh_status (*documents_get)(void* self, lh_str collection, const lh_str* ids, size_t n,
                             lh_document_sink sink, void* sink_ctx, lh_error* err);
} lh_storage_backend_v1;

/* ---------------------------------------------------------------------------------------------
 * The descriptor
 * ------------------------------------------------------------------------------------------- */
#define LH_FLAG_THREAD_SAFE                                     \
  0x1u /* one instance may be called from many threads at once; \
          without it the host serialises calls per instance */

typedef struct lh_plugin_descriptor {
  /* --- read first, before anything else of the plugin is touched --- */
  uint32_t struct_size; /* sizeof(lh_plugin_descriptor) the plugin was built with */
  uint16_t abi_major;   /* LH_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;   /* LH_ABI_MINOR the plugin was built with */
  /* --- ABI 1.0: every member below is [required since 1.0] unless marked otherwise --- */
  uint32_t kind;           /* lh_plugin_kind */
  uint32_t flags;          /* LH_FLAG_* */
  const char* name;        /* NUL-terminated, e.g. "embed-hash" */
  const char* version;     /* NUL-terminated plugin version, e.g. "1.0.0" */
  const char* description; /* [optional since 1.0] NUL-terminated, one line; may be NULL */
  /* [optional since 1.0; NULL means "{}"] NUL-terminated JSON Schema (draft-04 as RapidJSON
   * implements it) of the `config` object a manifest gives this plugin. The host validates the
   * config against it before create(). */
  const char* config_schema;
  /* [optional since 1.0] NUL-terminated description of the toolchain the plugin was built with (compiler and C++
   * runtime), shown by the host next to load errors and in /v1/plugins. */
  const char* build_info;
  /* Creates an instance from a validated config (JSON text, host-owned). Since 1.3 the config
   * also carries every `default` of config_schema the manifest left out (top level and nested
   * objects), so a plugin never restates its defaults in code. `host` stays valid until
   * destroy(). On success *out_self is the plugin's instance pointer. */
  lh_status (*create)(const lh_host_api* host, lh_str config_json, void** out_self, lh_error* err);
  /* Destroys an instance. Called once, off the request path, after the last request that used
   * it has finished. */
  void (*destroy)(void* self);
  /* [optional since 1.0; may be NULL] LH_OK when the instance can serve; used by GET /health. */
  lh_status (*health)(void* self, lh_error* err);
  /* The function table of `kind`: points to an lh_<kind>_v1 struct with static lifetime. */
  const void* table;
} lh_plugin_descriptor;

/* Signature of the function the entry alias points to. Must not fail and must not allocate:
 * return a pointer to a static descriptor. */
typedef const lh_plugin_descriptor* (*lh_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LAKEHOST_PLUGIN_API_H */
