// Broken on purpose: written with the C++ helper, and its constructor throws. The helper's
// catch-all must turn the exception into LH_ERR_INTERNAL carrying the what() text, and the host
// must refuse the instance with that text (and keep running).
#include <lakehost/plugin.hpp>
#include <stdexcept>

namespace {

class ThrowingConstructor final : public lakehost::EmbedProvider {
 public:
  ThrowingConstructor(const lakehost::Host&, std::string_view) {
    throw std::runtime_error("create_throws: this constructor always throws");
  }
  uint32_t dimension() const override { return 8; }
  void embed(std::span<const std::string_view>, float*) override {}
};

}  // namespace

LAKEHOST_PLUGIN(ThrowingConstructor, "broken-create-throws", "0.0.1",
                "deliberately broken plugin: the constructor throws", R"({"type": "object"})",
                LH_FLAG_THREAD_SAFE)
