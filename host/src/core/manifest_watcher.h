// Watches the manifests directory with inotify and calls `on_change` once the directory has
// been quiet for a moment (editors write files in several steps).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

namespace lakehost {

class ManifestWatcher {
 public:
  ManifestWatcher(std::filesystem::path dir, std::function<void()> on_change,
                  std::chrono::milliseconds quiet = std::chrono::milliseconds(300));
  ~ManifestWatcher();

 private:
  void run();
  std::filesystem::path dir_;
  std::function<void()> on_change_;
  std::chrono::milliseconds quiet_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;  // eventfd that wakes the thread for shutdown
  std::thread thread_;
};

}  // namespace lakehost
