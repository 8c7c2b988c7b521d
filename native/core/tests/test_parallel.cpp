#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "check.h"
#include "m3d/error.h"
#include "m3d/parallel.h"

// First case: runs in a forked child before this process has started any pool worker.
TEST_CASE("with thread creation refused, parallel_for runs inline instead of terminating") {
  const pid_t pid = fork();
  if (pid == 0) {
    // Root is exempt from RLIMIT_NPROC: drop to an unprivileged user first.
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
    const rlimit one{1, 1};
    if (setrlimit(RLIMIT_NPROC, &one) != 0) _exit(4);
    bool refused = false;
    try {
      std::thread t([] {});
      t.join();
    } catch (const std::system_error&) {
      refused = true;
    }
    if (!refused) _exit(5);  // the limit did not bite: the case would prove nothing
    m3d::set_num_threads(8);
    std::vector<int> seen(1000, 0);
    m3d::parallel_for(1000, 1e6, [&](int b, int e) {
      for (int i = b; i < e; ++i) seen[static_cast<size_t>(i)]++;
    });
    for (int v : seen) {
      if (v != 1) _exit(6);
    }
    _exit(m3d::pool_workers() == 0 ? 0 : 7);
  }
  int status = -1;
  CHECK(pid > 0);
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
}

TEST_CASE("parallel_for visits every index exactly once for any thread count") {
  for (int threads : {1, 2, 3, 8, 64}) {
    m3d::set_num_threads(threads);
    for (int n : {1, 2, 7, 1000, 4097}) {
      std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
      m3d::parallel_for(n, 1e6, [&](int b, int e) {
        for (int i = b; i < e; ++i) seen[static_cast<size_t>(i)]++;
      });
      int bad = 0;
      for (auto& s : seen) bad += s.load() != 1;
      CHECK_EQ(bad, 0);
    }
  }
  m3d::set_num_threads(0);
  CHECK(m3d::num_threads() >= 1);
}

TEST_CASE("exceptions from workers reach the caller") {
  m3d::set_num_threads(4);
  bool caught = false;
  try {
    m3d::parallel_for(100, 1e6, [](int b, int) {
      if (b > 0) throw m3d::Error(m3d::code::kNative, "boom");
    });
  } catch (const m3d::Error& e) {
    caught = std::string(e.code()) == m3d::code::kNative;
  }
  m3d::set_num_threads(0);
  CHECK(caught);
}

TEST_CASE("small work runs inline on the calling thread") {
  m3d::set_num_threads(8);
  int calls = 0;
  m3d::parallel_for(10, 1.0, [&](int b, int e) {
    ++calls;
    CHECK_EQ(b, 0);
    CHECK_EQ(e, 10);
  });
  m3d::set_num_threads(0);
  CHECK_EQ(calls, 1);
}

TEST_CASE("the pool persists: repeated calls reuse the same worker threads") {
  m3d::set_num_threads(4);
  // A thread_local flag is fresh in every new thread: counting first sightings counts
  // thread lifetimes, which thread ids cannot (a joined thread's id may be reused).
  static thread_local bool seen = false;
  std::atomic<int> lifetimes{0};
  for (int call = 0; call < 200; ++call) {
    m3d::parallel_for(64, 1e6, [&](int, int) {
      if (!seen) {
        seen = true;
        ++lifetimes;
      }
    });
  }
  CHECK(lifetimes.load() <= m3d::pool_workers() + 1);
  CHECK(m3d::pool_workers() >= 3);
  m3d::set_num_threads(0);
}

TEST_CASE("overlapping calls from many threads each complete with every index once") {
  m3d::set_num_threads(3);
  std::atomic<int> bad{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        const int n = 100 + 37 * t + round;
        std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
        m3d::parallel_for(n, 1e6, [&](int b, int e) {
          for (int i = b; i < e; ++i) seen[static_cast<size_t>(i)]++;
        });
        for (auto& s : seen) bad += s.load() != 1;
      }
    });
  }
  for (auto& c : callers) c.join();
  CHECK_EQ(bad.load(), 0);
  m3d::set_num_threads(0);
}

TEST_CASE("METRIC3D_THREADS sets the default thread count") {
  m3d::set_num_threads(0);
  setenv("METRIC3D_THREADS", "3", 1);
  CHECK_EQ(m3d::num_threads(), 3);
  setenv("METRIC3D_THREADS", "not a number", 1);
  CHECK(m3d::num_threads() == static_cast<int>(std::max(1u, std::min(std::thread::hardware_concurrency(), 64u))));
  unsetenv("METRIC3D_THREADS");
}

TEST_MAIN
