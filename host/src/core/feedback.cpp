#include "core/feedback.h"

#include "common/json.h"
#include "core/catalog.h"

namespace lakehost {

Playbook FeedbackService::record(Playbook p) {
  WriteScope write(registry_);
  auto gen = registry_.current();
  auto coll = CollectionCatalog::require(*gen, p.collection);
  std::string text, meta;
  if (!coll->text_and_metadata(p.doc_id, text, meta))
    throw not_found("document_not_found",
                    "/id: no document \"" + p.doc_id + "\" in collection \"" + p.collection + "\"");
  auto storage = gen->storage();
  return playbooks_.record(storage, std::move(p));
}

std::vector<Playbook> FeedbackService::list(const std::string& collection,
                                            const std::string* role) {
  auto gen = registry_.current();
  CollectionCatalog::require(*gen, collection);
  auto storage = gen->storage();
  return playbooks_.list(storage, collection, role);
}

void FeedbackService::remove(const std::string& collection, const std::string& playbook_id) {
  WriteScope write(registry_);
  auto gen = registry_.current();
  CollectionCatalog::require(*gen, collection);
  auto storage = gen->storage();
  if (!json::is_clean_text(playbook_id))
    throw not_found("playbook_not_found", "no such playbook (the id is not valid UTF-8 text)");
  if (!playbooks_.remove(storage, collection, playbook_id))
    throw not_found("playbook_not_found",
                    "no playbook \"" + playbook_id + "\" in collection \"" + collection + "\"");
}

}  // namespace lakehost
