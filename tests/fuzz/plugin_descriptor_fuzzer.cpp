// Fuzz target: the loader's checks of a plugin descriptor (check_descriptor in
// host/src/plugin/loader.cpp), the only plugin data the host reads before it trusts the
// library's ABI. A descriptor struct is built from the input behind a stub entry point, laid
// out the way a real library's would be and no more generously: the descriptor holds exactly
// `struct_size` bytes (at least the 8 that carry the size and versions), every string sits in
// an allocation of its own that ends with its NUL, and the table holds exactly its own
// struct_size bytes. AddressSanitizer then reports any read the checks make beyond what the
// plugin declared. An accepted descriptor must really be usable, and its config schema goes
// through what the loader does next (parse, validate a config).
#include <lakehost/plugin_api.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "common/json.h"
#include "fuzz_input.h"
#include "plugin/loader.h"

using lakehost::fuzz::Input;

namespace {

void stub() {}  // what every non-NULL function pointer points to: never called by the checks

const lh_plugin_descriptor* g_descriptor = nullptr;
const lh_plugin_descriptor* stub_entry() { return g_descriptor; }

// A string field: NULL, or a NUL-terminated copy of some input bytes in its own allocation.
std::unique_ptr<char[]> string_field(Input& in, uint8_t selector, size_t max) {
  if (selector % 8 == 0) return nullptr;
  std::string s = in.bytes(max);
  s.resize(::strnlen(s.c_str(), s.size()));  // a C string ends at its first NUL
  auto out = std::make_unique<char[]>(s.size() + 1);
  std::memcpy(out.get(), s.data(), s.size() + 1);
  return out;
}

template <typename Fn>
Fn stub_or_null(bool present) {
  return present ? reinterpret_cast<Fn>(&stub) : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  Input in(data, size);
  lh_plugin_descriptor d{};
  // Mostly plausible sizes, versions and kinds, so the later checks are reached.
  const uint8_t shape = in.byte();
  d.struct_size = (shape & 1) ? sizeof(lh_plugin_descriptor)
                              : in.take<uint16_t>() % (sizeof(lh_plugin_descriptor) + 16);
  d.abi_major = (shape & 2) ? LH_ABI_MAJOR : in.take<uint16_t>();
  d.abi_minor = (shape & 4) ? in.byte() % (LH_ABI_MINOR + 2) : in.take<uint16_t>();
  d.kind = (shape & 8) ? in.byte() % 7 : in.take<uint32_t>();
  d.flags = in.take<uint32_t>();
  const uint8_t present = in.byte();
  auto name = string_field(in, in.byte(), 300);
  auto version = string_field(in, in.byte(), 64);
  auto description = string_field(in, in.byte(), 300);
  auto build_info = string_field(in, in.byte(), 100);
  auto schema = string_field(in, in.byte(), 2000);
  d.name = name.get();
  d.version = version.get();
  d.description = description.get();
  d.build_info = build_info.get();
  d.config_schema = schema.get();
  d.create = stub_or_null<decltype(d.create)>(present & 1);
  d.destroy = stub_or_null<decltype(d.destroy)>(present & 2);
  d.health = stub_or_null<decltype(d.health)>(present & 4);

  // The function table: its own struct_size, then function pointers, NULL where a bit says so.
  std::vector<unsigned char> table;
  if (present & 8) {
    const uint32_t table_size = (shape & 16) ? in.byte() * 8u : in.take<uint16_t>() % 512u;
    table.resize(std::max<size_t>(table_size, sizeof(uint32_t)));
    std::memcpy(table.data(), &table_size, sizeof table_size);
    const uint64_t nulls = in.take<uint64_t>();
    for (size_t at = sizeof(void*), i = 0; at + sizeof(void*) <= table.size();
         at += sizeof(void*), ++i) {
      void* fn = (i < 64 && (nulls >> i) & 1) ? nullptr : reinterpret_cast<void*>(&stub);
      std::memcpy(table.data() + at, &fn, sizeof fn);
    }
    d.table = table.data();
  }

  // The descriptor as the library would hold it: exactly struct_size bytes (at least 8).
  const size_t held = std::max<size_t>(d.struct_size, offsetof(lh_plugin_descriptor, kind));
  auto storage = std::make_unique<unsigned char[]>(held);
  std::memcpy(storage.get(), &d, std::min(held, sizeof d));
  // An entry point may also return NULL.
  g_descriptor = (shape & 0xe0) == 0xe0
                     ? nullptr
                     : reinterpret_cast<const lh_plugin_descriptor*>(storage.get());

  const std::string refusal = lakehost::check_descriptor(stub_entry());
  if (!refusal.empty()) {
    LAKEHOST_FUZZ_CHECK(lakehost::json::is_clean_text(refusal));  // it ends up in JSON
    return 0;
  }

  // Accepted: everything the host goes on to use must be there.
  const auto& ok = *g_descriptor;
  LAKEHOST_FUZZ_CHECK(ok.struct_size >= offsetof(lh_plugin_descriptor, table) + sizeof(void*));
  LAKEHOST_FUZZ_CHECK(ok.abi_major == LH_ABI_MAJOR && ok.abi_minor <= LH_ABI_MINOR);
  LAKEHOST_FUZZ_CHECK(ok.name && *ok.name && ok.version && *ok.version);
  LAKEHOST_FUZZ_CHECK(lakehost::json::is_clean_text(ok.name));
  LAKEHOST_FUZZ_CHECK(lakehost::json::is_clean_text(ok.version));
  LAKEHOST_FUZZ_CHECK(ok.create && ok.destroy && ok.table);
  LAKEHOST_FUZZ_CHECK(ok.kind >= LH_KIND_EMBED_PROVIDER && ok.kind <= LH_KIND_STORAGE_BACKEND);
  uint32_t table_size = 0;
  std::memcpy(&table_size, ok.table, sizeof table_size);
  for (size_t at = sizeof(void*); at + sizeof(void*) <= std::min<size_t>(table_size, 16);
       at += sizeof(void*)) {
    void* fn = nullptr;
    std::memcpy(&fn, static_cast<const unsigned char*>(ok.table) + at, sizeof fn);
    LAKEHOST_FUZZ_CHECK(fn != nullptr);  // every kind needs at least its first two functions
  }

  // What load() and instantiate() do next with plugin data, still before create().
  try {
    lakehost::json::Schema config_schema(ok.config_schema ? ok.config_schema : "{}");
    rapidjson::Document config;
    const std::string config_text = in.rest();
    if (!lakehost::json::parse(config_text, config))
      (void)lakehost::json::validate(config_schema, config);
  } catch (const std::invalid_argument&) {
    // refused: "the plugin's config schema is not valid JSON"
  }
  return 0;
}
