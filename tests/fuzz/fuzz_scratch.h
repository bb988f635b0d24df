// A private scratch directory for a fuzz target's files, made once per process and removed at
// exit. On /dev/shm when there is one: SQLite's fsync and per-input file writes then cost
// memory bandwidth, not disk flushes, which keeps executions per second high.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace lakehost::fuzz {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    std::string base =
        std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
            ? "/dev/shm"
            : std::filesystem::temp_directory_path().string();
    std::string tmpl = base + "/lakehost-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    std::filesystem::permissions(tmpl, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    std::atexit([] {
      std::error_code e;
      std::filesystem::remove_all(scratch_dir(), e);
    });
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

}  // namespace lakehost::fuzz
