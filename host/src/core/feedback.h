// Feedback: recording, listing and deleting playbooks ("this document was a good answer to this
// query for this role"), which later searches of the same role hand to the scorer.
#pragma once

#include <string>
#include <vector>

#include "core/playbooks.h"
#include "core/registry.h"

namespace lakehost {

class FeedbackService {
 public:
  FeedbackService(Registry& registry, PlaybookStore& playbooks)
      : registry_(registry), playbooks_(playbooks) {}

  // Durable when it returns; the returned record carries its id and time. Errors:
  // collection_not_found, document_not_found (the document must exist).
  Playbook record(Playbook p);
  // role == nullptr: every role. Error: collection_not_found.
  std::vector<Playbook> list(const std::string& collection, const std::string* role);
  // Errors: collection_not_found, playbook_not_found.
  void remove(const std::string& collection, const std::string& playbook_id);

 private:
  Registry& registry_;
  PlaybookStore& playbooks_;
};

}  // namespace lakehost
