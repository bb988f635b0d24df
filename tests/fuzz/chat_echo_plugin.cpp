// fuzz-chat-echo: a chat provider that answers at once with a digest of the conversation, in a
// few deltas. The route fuzzer loads it so that the chat routes run their whole pipeline
// (validation, retrieval, the deferred or streamed answer) without an upstream server.
#include <lakehost/plugin.hpp>

#include <string>

namespace {

constexpr const char* kConfigSchema = R"({"type": "object", "additionalProperties": false})";

class EchoChat final : public lakehost::ChatProvider {
 public:
  EchoChat(lakehost::Host, std::string_view) {}

  void chat(const lh_chat_request& request, DeltaSink on_delta, void* sink_ctx,
            lh_chat_usage& usage) override {
    size_t bytes = 0;
    for (size_t i = 0; i < request.n_messages; ++i) bytes += request.messages[i].content.size;
    const std::string parts[] = {"echo: ", std::to_string(request.n_messages) + " messages, ",
                                 std::to_string(bytes) + " bytes"};
    for (const auto& p : parts) on_delta(sink_ctx, {p.data(), p.size()});
    usage.prompt_tokens = bytes / 4;
    usage.completion_tokens = 3;
  }
};

}  // namespace

LAKEHOST_PLUGIN(EchoChat, "fuzz-chat-echo", "1.0.0", "echoes a digest of the conversation",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
