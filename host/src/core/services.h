// The host's core services, built once over the registry and shared by every front end (the
// HTTP routes, demo loading, tests). They take plain C++ arguments, return values, and report
// failures as HostError (common/error.h); none of them knows HTTP.
#pragma once

#include <string>

#include "core/blobs.h"
#include "core/catalog.h"
#include "core/chat.h"
#include "core/documents.h"
#include "core/embed_cache.h"
#include "core/embedding.h"
#include "core/feedback.h"
#include "core/playbooks.h"
#include "core/registry.h"
#include "core/search.h"

namespace lakehost {

struct CoreServices {
  CoreServices(Registry& r, size_t embed_cache_entries)
      : registry(r),
        cache(embed_cache_entries),
        playbooks(cache),
        embedding(r, cache),
        catalog(r, playbooks),
        documents(r, catalog),
        search(r, cache, playbooks),
        feedback(r, playbooks),
        blobs(r),
        chat(r, search) {}
  CoreServices(const CoreServices&) = delete;
  CoreServices& operator=(const CoreServices&) = delete;

  // Another replica changed key `key` in shared storage ("" = anything may have changed).
  void storage_key_changed(const std::string& key) {
    if (key.empty() || key.starts_with("playbooks/")) playbooks.invalidate();
  }

  Registry& registry;
  EmbedCache cache;
  PlaybookStore playbooks;
  EmbedService embedding;
  CollectionCatalog catalog;
  DocumentService documents;
  SearchService search;
  FeedbackService feedback;
  BlobStore blobs;
  ChatService chat;
};

}  // namespace lakehost
