// The chat provider contract (lh_chat_provider_v1): a reply to any well-formed conversation as
// UTF-8 text deltas, from several threads at once. A provider that talks to a model server is
// tested against the server its config names (`lakehost plugin test LIB --config '{"base_url":
// ...}'`).
#include <string>

#include "common/json.h"
#include "conformance/conformance.h"

namespace lakehost::conformance {

namespace {

struct Reply {
  std::string text;
  size_t deltas = 0;
  lh_chat_usage usage{sizeof(lh_chat_usage), 0, 0};
};

Reply ask(const Chat& chat, const std::vector<std::pair<std::string, std::string>>& messages) {
  std::vector<lh_chat_message> msgs;
  for (const auto& [role, content] : messages) msgs.push_back({to_lh(role), to_lh(content)});
  lh_chat_request r{};
  r.struct_size = sizeof(lh_chat_request);
  r.messages = msgs.data();
  r.n_messages = msgs.size();
  r.temperature = 0;
  r.max_tokens = 64;
  Reply reply;
  chat.chat(
      r,
      [&](std::string_view delta) {
        reply.text.append(delta);
        ++reply.deltas;
      },
      reply.usage);
  check(json::is_clean_text(reply.text), "the reply is not valid UTF-8 text without NUL");
  return reply;
}

}  // namespace

std::vector<Case> chat_cases() {
  return {
      {"chat.reply_is_text", "a user message gets a non-empty UTF-8 reply through on_delta",
       [](const Factory& make) {
         Chat chat(make());
         auto r = ask(chat, {{"user", "Say hello."}});
         check(!r.text.empty(), "the reply is empty");
         check(r.deltas >= 1, "on_delta was never called");
       }},
      {"chat.conversation", "system, user and assistant messages in one conversation are accepted",
       [](const Factory& make) {
         Chat chat(make());
         auto r = ask(chat, {{"system", "Answer in one word."},
                             {"user", "Name a fruit."},
                             {"assistant", "Apple."},
                             {"user", "Another one."}});
         check(!r.text.empty(), "the reply to a multi-turn conversation is empty");
       }},
      {"chat.concurrent_calls", "calls from several threads at once each get a complete reply",
       [](const Factory& make) {
         Chat chat(make());
         concurrently(3, [&](int t) {
           auto r = ask(chat, {{"user", "Count to " + std::to_string(t + 2) + "."}});
           check(!r.text.empty(), "a concurrent call got an empty reply");
         });
       }},
  };
}

}  // namespace lakehost::conformance
