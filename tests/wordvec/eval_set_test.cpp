// data/eval/staffing-queries.jsonl keeps its promises: three classes of 15+ queries over the
// demo corpus's roles, and the "no shared word" class really shares no word (stopwords aside,
// plural s folded) with the profiles of its role.
#include <map>

#include "eval_set.h"
#include "wordvec_support.h"

namespace lakehost::wordvec_test {
namespace {

const std::string kQueries = LAKEHOST_SOURCE_DIR "/data/eval/staffing-queries.jsonl";

TEST(EvalSet, ClassesRolesAndTheBriefsQuery) {
  const auto docs = embed_eval::read_corpus(kDemoCorpus);
  const auto queries = embed_eval::read_queries(kQueries);
  std::map<std::string, int> per_class;
  std::map<std::string, int> roles_named;
  for (const auto& q : queries) {
    ++per_class[q.klass];
    if (q.klass == "role_name") ++roles_named[q.role];
  }
  for (const auto& c : embed_eval::classes()) EXPECT_GE(per_class[c], 15) << c;
  std::map<std::string, int> roles;
  for (const auto& d : docs) ++roles[d.role];
  EXPECT_EQ(roles.size(), 16u);
  for (const auto& [role, n] : roles) EXPECT_EQ(roles_named[role], 1) << role;
  bool found = false;
  for (const auto& q : queries)
    found |= q.text == "an employee who can move pallets with a powered truck" &&
             q.role == "Forklift Operator";
  EXPECT_TRUE(found);
  EXPECT_NO_THROW(embed_eval::check(queries, docs));
}

TEST(EvalSet, DisjointQueriesShareNoWordWithTheirRole) {
  const auto docs = embed_eval::read_corpus(kDemoCorpus);
  for (const auto& q : embed_eval::read_queries(kQueries)) {
    const auto shared = embed_eval::shared_words(q, docs);
    if (q.klass == "paraphrase_disjoint") {
      EXPECT_TRUE(shared.empty()) << q.text << " shares " << *shared.begin();
    } else if (q.klass == "paraphrase_shared") {
      EXPECT_FALSE(shared.empty()) << q.text;
    }
  }
}

// The checker itself catches a violation (so the test above can fail).
TEST(EvalSet, CheckerRejectsASharedWord) {
  const auto docs = embed_eval::read_corpus(kDemoCorpus);
  const embed_eval::Query leaky{"drives forklifts all day", "Forklift Operator",
                                "paraphrase_disjoint"};
  EXPECT_EQ(embed_eval::shared_words(leaky, docs).count("forklift"), 1u);
  EXPECT_THROW(embed_eval::check({leaky}, docs), std::runtime_error);
  const embed_eval::Query wrong_role{"x", "Astronaut", "role_name"};
  EXPECT_THROW(embed_eval::check({wrong_role}, docs), std::runtime_error);
  EXPECT_EQ(embed_eval::content_words("The Pallets, of a TRUCK"),
            (std::set<std::string>{"pallet", "truck"}));
}

}  // namespace
}  // namespace lakehost::wordvec_test
