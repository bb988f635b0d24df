// Fuzz target: the word-vector file reader (plugins/embed-wordvec/src/lhwv_format.h,
// lhwv::WordVectors), which memory-maps a .lhwv file and validates it before embed-wordvec
// reads a byte of it. The input is the file itself when the first byte is even. When it is
// odd, the input chooses a word count, a dimension and the strings' size, and the header is
// the one the writer makes for them (lhwv::make_header), followed by the input's bytes as the
// sections, so the fuzzer spends its time on the index, the word order and the lookups rather
// than on rediscovering the header arithmetic. The file sits in a memfd (a regular file that
// never touches a disk), opened by its /proc/self/fd path as the plugin opens a path.
//
// Properties beyond "no crash" (AddressSanitizer watches the mapping's bounds): an accepted file
// finds each of its words at its own id, and every vector, norm and rank is inside the file.
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>

#include "fuzz_input.h"
#include "lhwv_format.h"

namespace {

int file_fd() {
  static const int fd = ::memfd_create("lhwv-fuzz", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  return fd;
}

std::string file_path() { return "/proc/self/fd/" + std::to_string(file_fd()); }

void write_file(const std::string& bytes) {
  if (::ftruncate(file_fd(), 0) != 0 ||
      ::pwrite(file_fd(), bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lakehost::fuzz::Input in(data, size);
  const uint8_t mode = in.byte();
  std::string file;
  if (!(mode & 1)) {
    file = in.rest();
  } else {
    const uint64_t n = 1 + in.byte() % 32;
    const uint32_t d = 1 + in.byte() % 8;
    const uint64_t strings = in.byte() % 200;
    lhwv::LhwvHeader h = lhwv::make_header(n, d, strings);
    // Sometimes a field the writer would not write, to reach each header check.
    if (mode & 2) {
      const uint8_t field = in.byte() % 12;
      const uint64_t value = in.take<uint64_t>();
      auto* words = reinterpret_cast<unsigned char*>(&h);
      const size_t offsets[] = {0, 8, 12, 16, 20, 24, 32, 40, 48, 56, 64, 72};
      std::memcpy(words + offsets[field], &value, field < 5 ? 4 : 8);
    }
    file.assign(reinterpret_cast<const char*>(&h), sizeof h);
    const uint64_t want = std::min<uint64_t>(h.file_size, 1 << 20);
    if (mode & 4) {
      // The index, as rising offsets from the input's deltas, so the word-order checks are hit.
      file.resize(std::max<uint64_t>(file.size(), std::min(h.index_offset, want)), '\0');
      uint32_t off = 0;
      for (uint64_t i = 0; i <= n && file.size() + 4 <= want; ++i) {
        file.append(reinterpret_cast<const char*>(&off), 4);
        off += in.byte() % 8;
      }
      // The words follow at their own offset.
      if (h.strings_offset <= want)
        file.resize(std::max<uint64_t>(file.size(), h.strings_offset), '\0');
    }
    file += in.rest();
    if (!(mode & 8)) file.resize(want, '\0');  // else: truncated or trailing bytes as given
  }
  write_file(file);
  try {
    lhwv::WordVectors w(file_path());
    LAKEHOST_FUZZ_CHECK(w.size() > 0 && w.dimension() > 0);
    double sum = 0;
    for (uint32_t i = 0; i < w.size(); ++i) {
      const std::string_view word = w.word_at(i);
      LAKEHOST_FUZZ_CHECK(w.find(word) == i);
      const float* v = w.unit_vector(i);
      for (uint32_t j = 0; j < w.dimension(); ++j) sum += v[j];
      sum += w.norm(i) + w.rank(i);
    }
    (void)w.find("forklift");
    (void)w.find("");
    if (std::isnan(sum)) return 0;  // the reader does not promise finite floats; only bounds
  } catch (const lhwv::FormatError&) {
  }
  return 0;
}
