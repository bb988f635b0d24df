// Corpus replay for the normal (gcc, no libFuzzer) test build: feeds every file named on the
// command line, or found in a directory named there, to LLVMFuzzerTestOneInput, then
// `--mutations N` deterministic mutations of each. The count, not a time, bounds the run, so
// the test takes the same work on every machine; a crash or abort fails it.
//
//   fuzz_<target> [--mutations N] CORPUS_DIR_OR_FILE...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// xorshift64*: the same mutations on every run and machine.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
  size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
};

// Bytes that matter to the parsers under test, so that mutations reach their branches.
constexpr const char* kInteresting[] = {
    "\"",    "\\",   "{",    "}", "[",   "]", ":",    ",",    "0",  "-1",
    "1e309", "null", "\r\n", "%", "%zz", "/", "\xff", "\xc3", "\0", "9999999999999999999"};

std::vector<uint8_t> mutate(std::vector<uint8_t> in, Rng& rng) {
  const int steps = 1 + static_cast<int>(rng.below(4));
  for (int i = 0; i < steps; ++i) {
    const size_t at = rng.below(in.size() + 1);
    switch (rng.below(5)) {
      case 0:  // flip a bit
        if (!in.empty()) in[rng.below(in.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
        break;
      case 1: {  // insert an interesting token
        const char* tok = kInteresting[rng.below(std::size(kInteresting))];
        const size_t n = std::max<size_t>(1, std::strlen(tok));
        in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), tok, tok + n);
        break;
      }
      case 2:  // delete a range
        if (at < in.size())
          in.erase(in.begin() + static_cast<std::ptrdiff_t>(at),
                   in.begin() +
                       static_cast<std::ptrdiff_t>(std::min(in.size(), at + 1 + rng.below(16))));
        break;
      case 3:  // truncate
        in.resize(at);
        break;
      default:  // duplicate a range
        if (at < in.size()) {
          const size_t n = std::min(in.size() - at, 1 + rng.below(32));
          std::vector<uint8_t> copy(in.begin() + static_cast<std::ptrdiff_t>(at),
                                    in.begin() + static_cast<std::ptrdiff_t>(at + n));
          in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), copy.begin(), copy.end());
        }
        break;
    }
  }
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  size_t mutations = 0;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::strtoul(argv[++i], nullptr, 10);
      continue;
    }
    if (fs::is_directory(arg)) {
      for (const auto& e : fs::directory_iterator(arg))
        if (e.is_regular_file()) files.push_back(e.path());
    } else {
      files.push_back(arg);
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "no corpus files given\n");
    return 2;
  }
  size_t runs = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    ++runs;
    Rng rng{0x9e3779b97f4a7c15ull ^ std::hash<std::string>{}(f.filename().string())};
    for (size_t m = 0; m < mutations; ++m) {
      const auto mutated = mutate(bytes, rng);
      LLVMFuzzerTestOneInput(mutated.data(), mutated.size());
      ++runs;
    }
  }
  std::printf("replayed %zu corpus files and %zu mutations: %zu runs, no crash\n", files.size(),
              runs - files.size(), runs);
  return 0;
}
