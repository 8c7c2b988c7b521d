#include <atomic>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "m3d/error.h"
#include "m3d/parallel.h"

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

TEST_MAIN
