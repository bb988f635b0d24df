// Broken on purpose, but only at request time: a valid embed provider (C++ helper) that loads
// and creates fine, whose embed() throws. The helper turns the exception into LH_ERR_INTERNAL;
// the host must answer that request with a 500 JSON error carrying the text and keep serving.
#include <lakehost/plugin.hpp>
#include <stdexcept>

namespace {

class ThrowingEmbed final : public lakehost::EmbedProvider {
 public:
  ThrowingEmbed(const lakehost::Host&, std::string_view) {}
  uint32_t dimension() const override { return 8; }
  void embed(std::span<const std::string_view>, float*) override {
    throw std::runtime_error("embed_throws: embed() always throws");
  }
};

}  // namespace

LAKEHOST_PLUGIN(ThrowingEmbed, "broken-embed-throws", "0.0.1",
                "deliberately broken plugin: embed() throws", R"({"type": "object"})",
                LH_FLAG_THREAD_SAFE)
