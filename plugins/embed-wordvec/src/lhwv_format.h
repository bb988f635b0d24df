// The .lhwv word-vector file: written once by tools/wordvec-convert, memory-mapped read-only by
// embed-wordvec. Layout (little-endian, every section 64-byte aligned; see README.md):
//
//   header      LhwvHeader (88 bytes)
//   index       uint32[word_count + 1]   byte offset of word i in `strings`; index[n] = size
//   strings     the words' UTF-8 bytes, concatenated in byte-wise sorted order (no separators)
//   vectors     float32[word_count][dimension], unit length, in the same sorted order
//   norms       float32[word_count]      each word's original L2 norm
//   ranks       uint32[word_count]       frequency rank, 0 = most frequent word of the source
//
// Sorted words give O(log n) lookup straight from the mapping: nothing is built at load, so a
// 341k-word file opens in milliseconds and its pages are shared by every process that maps it.
// Unit vectors are what a sentence average needs; the norm is kept so that the raw vector
// (unit * norm) is still available.
//
// SDK-free and header-only: the plugin, the converter and the tests all use this one reader.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lhwv {

constexpr char kMagic[8] = {'L', 'H', 'W', 'V', 'E', 'C', '\r', '\n'};  // \r\n: catches text mode
constexpr uint32_t kVersion = 1;
constexpr uint32_t kByteOrderMark = 0x01020304;  // reads 0x04030201 on a big-endian machine
constexpr uint32_t kMaxDimension = 4096;
constexpr uint64_t kAlignment = 64;

struct LhwvHeader {
  char magic[8];
  uint32_t version;
  uint32_t byte_order;  // kByteOrderMark
  uint32_t dimension;
  uint32_t reserved;  // 0
  uint64_t word_count;
  uint64_t file_size;  // the whole file: a shorter file was truncated
  uint64_t index_offset;
  uint64_t strings_offset;
  uint64_t strings_size;
  uint64_t vectors_offset;
  uint64_t norms_offset;
  uint64_t ranks_offset;
};
static_assert(sizeof(LhwvHeader) == 88);

constexpr uint64_t align_up(uint64_t x) { return (x + kAlignment - 1) / kAlignment * kAlignment; }

// Section offsets for a file of `n` words, `d` dimensions and `strings_size` bytes of words:
// the single definition the writer uses and the reader checks against.
inline LhwvHeader make_header(uint64_t n, uint32_t d, uint64_t strings_size) {
  LhwvHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.byte_order = kByteOrderMark;
  h.dimension = d;
  h.word_count = n;
  h.index_offset = align_up(sizeof(LhwvHeader));
  h.strings_offset = align_up(h.index_offset + (n + 1) * sizeof(uint32_t));
  h.strings_size = strings_size;
  h.vectors_offset = align_up(h.strings_offset + strings_size);
  h.norms_offset = align_up(h.vectors_offset + n * d * sizeof(float));
  h.ranks_offset = align_up(h.norms_offset + n * sizeof(float));
  h.file_size = h.ranks_offset + n * sizeof(uint32_t);
  return h;
}

// A file that is not a valid .lhwv file. The message says what is wrong and names the file.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A read-only mapping of a .lhwv file, fully validated on open. Immutable afterwards: any
// number of threads may use one instance.
class WordVectors {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;

  explicit WordVectors(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      fail("not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ < sizeof(LhwvHeader)) {
      ::close(fd);
      fail("truncated: " + std::to_string(size_) + " bytes, shorter than the " +
           std::to_string(sizeof(LhwvHeader)) + "-byte header");
    }
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);  // the mapping keeps the file
    if (p == MAP_FAILED) fail(std::string("mmap failed: ") + std::strerror(errno));
    base_ = static_cast<const unsigned char*>(p);
    try {
      validate();
    } catch (...) {
      ::munmap(const_cast<unsigned char*>(base_), size_);
      throw;
    }
  }
  ~WordVectors() { ::munmap(const_cast<unsigned char*>(base_), size_); }
  WordVectors(const WordVectors&) = delete;
  WordVectors& operator=(const WordVectors&) = delete;

  const std::string& path() const { return path_; }
  uint32_t dimension() const { return header_.dimension; }
  uint32_t size() const { return static_cast<uint32_t>(header_.word_count); }

  // The id (sorted position) of `word`, or kNotFound. Binary search on the mapped words.
  uint32_t find(std::string_view word) const {
    uint32_t lo = 0, hi = size();
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      const int c = word_at(mid).compare(word);
      if (c == 0) return mid;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    return kNotFound;
  }

  std::string_view word_at(uint32_t id) const {
    return {reinterpret_cast<const char*>(strings_) + index_[id], index_[id + 1] - index_[id]};
  }
  const float* unit_vector(uint32_t id) const { return vectors_ + size_t(id) * dimension(); }
  float norm(uint32_t id) const { return norms_[id]; }
  uint32_t rank(uint32_t id) const { return ranks_[id]; }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw FormatError(path_ + ": " + what); }

  void validate() {
    std::memcpy(&header_, base_, sizeof header_);
    const LhwvHeader& h = header_;
    if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0)
      fail(
          "not a word-vector file (bad magic; expected a .lhwv file made by "
          "lakehost-wordvec-convert)");
    if (h.byte_order != kByteOrderMark) fail("written on a machine of the other byte order");
    if (h.version != kVersion)
      fail("format version " + std::to_string(h.version) + ", this reader knows version " +
           std::to_string(kVersion) + " (convert the vectors again)");
    if (h.dimension == 0 || h.dimension > kMaxDimension)
      fail("dimension " + std::to_string(h.dimension) + " outside [1, 4096]");
    if (h.word_count == 0 || h.word_count >= UINT32_MAX) fail("bad word count");
    if (h.strings_size > UINT32_MAX) fail("word strings larger than 4 GiB");
    // Every offset must be the one the writer computes: this bounds every section by file_size.
    const LhwvHeader expected = make_header(h.word_count, h.dimension, h.strings_size);
    if (std::memcmp(&expected, &h, sizeof h) != 0) fail("inconsistent section offsets");
    if (size_ < h.file_size)
      fail("truncated: " + std::to_string(size_) + " bytes, the header says " +
           std::to_string(h.file_size));
    if (size_ > h.file_size) fail("trailing bytes after the last section");
    index_ = reinterpret_cast<const uint32_t*>(base_ + h.index_offset);
    strings_ = base_ + h.strings_offset;
    vectors_ = reinterpret_cast<const float*>(base_ + h.vectors_offset);
    norms_ = reinterpret_cast<const float*>(base_ + h.norms_offset);
    ranks_ = reinterpret_cast<const uint32_t*>(base_ + h.ranks_offset);
    // Offsets must rise and end at strings_size, and words must be strictly increasing: that is
    // what makes find() correct and word_at() stay inside the file. O(n), a few ms for 341k.
    if (index_[0] != 0 || index_[h.word_count] != h.strings_size) fail("corrupt word index");
    for (uint32_t i = 0; i < h.word_count; ++i) {
      // Bounded by strings_size here, not only by the last entry: word_at(i) is compared below
      // before the later entries are checked, and an entry far beyond the section made it read
      // past the mapping (found by tests/fuzz/wordvec_file_fuzzer.cpp).
      if (index_[i + 1] <= index_[i] || index_[i + 1] > h.strings_size)
        fail("corrupt word index (empty or unordered entry)");
      if (i > 0 && !(word_at(i - 1) < word_at(i))) fail("words are not sorted");
    }
  }

  std::string path_;
  const unsigned char* base_ = nullptr;
  size_t size_ = 0;
  LhwvHeader header_{};
  const uint32_t* index_ = nullptr;
  const unsigned char* strings_ = nullptr;
  const float* vectors_ = nullptr;
  const float* norms_ = nullptr;
  const uint32_t* ranks_ = nullptr;
};

}  // namespace lhwv
