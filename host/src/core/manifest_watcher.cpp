#include "core/manifest_watcher.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>

namespace lakehost {

ManifestWatcher::ManifestWatcher(std::filesystem::path dir, std::function<void()> on_change,
                                 std::chrono::milliseconds quiet)
    : dir_(std::move(dir)), on_change_(std::move(on_change)), quiet_(quiet) {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inotify_fd_ < 0 || stop_fd_ < 0 ||
      inotify_add_watch(inotify_fd_, dir_.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) < 0) {
    spdlog::warn("cannot watch {} ({}); reload with SIGHUP or POST /v1/admin/reload", dir_.string(),
                 std::strerror(errno));
    return;
  }
  thread_ = std::thread([this] { run(); });
}

ManifestWatcher::~ManifestWatcher() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void ManifestWatcher::run() {
  bool pending = false;
  char buf[4096];
  for (;;) {
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int timeout = pending ? static_cast<int>(quiet_.count()) : -1;
    int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (n == 0 && pending) {  // quiet for `quiet_`: the edit is complete
      pending = false;
      on_change_();
      continue;
    }
    if (fds[0].revents & POLLIN) {
      while (::read(inotify_fd_, buf, sizeof buf) > 0) {
      }
      pending = true;
    }
  }
}

}  // namespace lakehost
