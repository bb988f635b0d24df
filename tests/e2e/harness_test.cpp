// The harness itself: a test process that dies without running destructors (an ASSERT that
// fails with client threads still joinable ends in std::terminate) takes its hosts with it.
#include <sys/wait.h>

#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

TEST(Harness, HostDiesWithATestProcessThatAborts) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child plays a test binary: it starts a host, reports its port, then aborts the way
    // std::terminate does, with the HostProcess destructor never run.
    close(fds[0]);
    int port = 0;
    try {
      static HostProcess* host = new HostProcess();
      port = host->port();
    } catch (...) {
    }
    if (write(fds[1], &port, sizeof port) != sizeof port) _exit(3);
    std::abort();
  }
  close(fds[1]);
  int port = 0;
  const ssize_t got = read(fds[0], &port, sizeof port);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(got, static_cast<ssize_t>(sizeof port));
  ASSERT_GT(port, 0) << "the child could not start a host";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);

  // The host's answer to /health stops within seconds: the kernel killed it with the child.
  HttpClient c;
  const std::string health = "http://127.0.0.1:" + std::to_string(port) + "/health";
  EXPECT_TRUE(eventually([&] { return c.get(health).status == 0; }, std::chrono::seconds(10)))
      << "a host outlived the test process that started it (port " << port << ")";
}

}  // namespace
}  // namespace lakehost::e2e
