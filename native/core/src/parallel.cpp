#include "m3d/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace m3d {
namespace {

constexpr int kMaxThreads = 64;

int default_threads() {
  if (const char* env = std::getenv("METRIC3D_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return std::min(n, kMaxThreads);
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min<unsigned>(hc, kMaxThreads));
}

std::atomic<int> g_threads{0};

// One parallel_for call: `chunks` contiguous ranges of [0, n), claimed one at a time by
// the calling thread and by at most `maxHelpers` pool workers.
struct Job {
  const std::function<void(int, int)>* fn = nullptr;
  int n = 0;
  int chunks = 0;
  int maxHelpers = 0;
  int helpers = 0;  // workers that took the job (pool mutex)
  int active = 0;   // of those, still inside run() (pool mutex)
  std::atomic<int> next{0};
  std::mutex errorMutex;
  std::exception_ptr error;
  std::condition_variable idle;  // signalled under the pool mutex when active drops to 0

  void run() {
    for (;;) {
      const int c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      const int begin = static_cast<int>(static_cast<long long>(n) * c / chunks);
      const int end = static_cast<int>(static_cast<long long>(n) * (c + 1) / chunks);
      try {
        (*fn)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (!error) error = std::current_exception();
      }
    }
  }
};

// Persistent workers shared by every parallel_for of the process. Never destroyed: the
// workers wait on a condition variable at exit, and no exit path joins them.
class Pool {
 public:
  static Pool& get() {
    static Pool* pool = new Pool();
    return *pool;
  }

  // Runs the job with up to `helpers` workers besides the calling thread; the caller
  // claims chunks too, so the job completes even when every worker is busy elsewhere.
  void run(Job& job, int helpers) {
    job.maxHelpers = std::min(helpers, ensure_workers(num_threads() - 1));
    if (job.maxHelpers > 0) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(&job);
      }
      wake_.notify_all();
    }
    job.run();
    if (job.maxHelpers > 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      const auto it = std::find(queue_.begin(), queue_.end(), &job);
      if (it != queue_.end()) queue_.erase(it);
      job.idle.wait(lock, [&] { return job.active == 0; });
    }
  }

  int workers() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(workers_.size());
  }

 private:
  // Starts workers up to `want` (never stops any: a smaller thread setting caps how many
  // take part in each call). Returns how many exist; fewer when the system refuses threads.
  int ensure_workers(int want) {
    std::lock_guard<std::mutex> lock(mutex_);
    while (static_cast<int>(workers_.size()) < want && !refused_) {
      try {
        workers_.emplace_back([this] { work(); });
      } catch (const std::system_error&) {
        refused_ = true;  // e.g. RLIMIT_NPROC: run with what exists, the caller works inline
      }
    }
    return std::min(want, static_cast<int>(workers_.size()));
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return !queue_.empty(); });
      Job* job = queue_.front();
      if (++job->helpers >= job->maxHelpers) queue_.pop_front();
      ++job->active;
      lock.unlock();
      job->run();
      lock.lock();
      if (--job->active == 0) job->idle.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job*> queue_;
  std::vector<std::thread> workers_;
  bool refused_ = false;
};

}  // namespace

void set_num_threads(int n) { g_threads.store(n < 0 ? 0 : std::min(n, kMaxThreads)); }

int num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : default_threads();
}

int pool_workers() { return Pool::get().workers(); }

void parallel_for(int n, double costPerItem, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  // Below ~200k elementary operations another thread costs more than it saves.
  constexpr double kMinWorkPerThread = 2.0e5;
  int threads = std::min(num_threads(), n);
  const double total = costPerItem * static_cast<double>(n);
  threads = std::min(threads, std::max(1, static_cast<int>(total / kMinWorkPerThread)));
  if (threads <= 1) {
    fn(0, n);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  // A few chunks per thread even out rows of unequal cost and threads that start late.
  job.chunks = std::min(n, threads * 4);
  Pool::get().run(job, threads - 1);
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace m3d
