#include "m3d/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace m3d {
namespace {
std::atomic<int> g_threads{0};

int default_threads() {
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 64u));
}
}  // namespace

void set_num_threads(int n) { g_threads.store(n < 0 ? 0 : std::min(n, 64)); }

int num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : default_threads();
}

void parallel_for(int n, double costPerItem, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  // Below ~200k elementary operations a thread start costs more than it saves.
  constexpr double kMinWorkPerThread = 2.0e5;
  int threads = std::min(num_threads(), n);
  const double total = costPerItem * static_cast<double>(n);
  threads = std::min(threads, std::max(1, static_cast<int>(total / kMinWorkPerThread)));
  if (threads <= 1) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads - 1));
  std::exception_ptr error;
  std::mutex errorMutex;
  auto run = [&](int begin, int end) {
    try {
      fn(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(errorMutex);
      if (!error) error = std::current_exception();
    }
  };
  const int chunk = (n + threads - 1) / threads;
  for (int t = 1; t < threads; ++t) {
    const int begin = t * chunk;
    const int end = std::min(n, begin + chunk);
    if (begin >= end) break;
    workers.emplace_back(run, begin, end);
  }
  run(0, std::min(n, chunk));
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace m3d
