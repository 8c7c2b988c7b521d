#include "m3d/buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <deque>
#include <mutex>
#include <new>
#include <string>

namespace m3d::pool {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kHeader = 64;            // keeps the capacity in front of the data
constexpr size_t kMinPooled = 256 << 10;  // smaller blocks come and go through malloc
constexpr size_t kGranule = 64 << 10;     // capacities are rounded to this, to be reusable

constexpr size_t kHugeAlign = 2 << 20;    // blocks this large start on a 2 MiB boundary
constexpr size_t kHugeFrom = 1 << 20;     // requests this large get whole 2 MiB pages

struct Block {
  size_t capacity;
  void* base;
};

// The cache lives on the heap and is never destroyed: buffers released by finalizers
// during process teardown still find it, and the cached blocks stay reachable from a
// global (no leak reported at exit).
struct Cache {
  std::mutex mutex;
  std::deque<Block> free;  // oldest first
  size_t cached = 0;
  size_t limit = size_t(256) << 20;
};
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

// Bytes in front of the data: the capacity sits in the last 8 of them. Large blocks are
// 2 MiB aligned and advised for transparent huge pages, so that the first touch of a
// fresh block takes one page fault per 2 MiB instead of one per 4 KiB.
size_t header_for(size_t capacity) { return capacity >= kHugeAlign ? kHugeAlign : kHeader; }

size_t& capacity_of(void* data) { return *reinterpret_cast<size_t*>(static_cast<char*>(data) - sizeof(size_t)); }

void evict_locked(size_t keep) {
  Cache& c = cache();
  while (c.cached > keep && !c.free.empty()) {
    c.cached -= c.free.front().capacity;
    std::free(c.free.front().base);
    c.free.pop_front();
  }
}

}  // namespace

void* acquire(size_t bytes) {
  Cache& c = cache();
  // From 1 MiB on, capacities are whole huge pages (at most 2 MiB more than asked for,
  // under 2x): header_for() then aligns them, and a fresh one faults in 2 MiB at a time.
  const size_t capacity = bytes < kMinPooled   ? (bytes + kAlign - 1) / kAlign * kAlign
                          : bytes < kHugeFrom ? (bytes + kGranule - 1) / kGranule * kGranule
                                              : (bytes + kHugeAlign - 1) / kHugeAlign * kHugeAlign;
  if (capacity >= kMinPooled) {
    std::lock_guard<std::mutex> lock(c.mutex);
    for (auto it = c.free.rbegin(); it != c.free.rend(); ++it) {
      if (it->capacity == capacity) {
        void* base = it->base;
        c.cached -= capacity;
        c.free.erase(std::next(it).base());
        return static_cast<char*>(base) + header_for(capacity);
      }
    }
  }
  const size_t header = header_for(capacity);
  const bool huge = header == kHugeAlign;
  void* base = std::aligned_alloc(huge ? kHugeAlign : kAlign, capacity + header);
  if (!base) throw Error(code::kOutOfMemory, "out of memory allocating " + std::to_string(bytes) + " bytes");
#ifdef MADV_HUGEPAGE
  if (huge) madvise(static_cast<char*>(base) + header, capacity, MADV_HUGEPAGE);
#endif
  void* data = static_cast<char*>(base) + header;
  capacity_of(data) = capacity;
  return data;
}

void release(void* data) noexcept {
  if (!data) return;
  Cache& c = cache();
  const size_t capacity = capacity_of(data);
  void* base = static_cast<char*>(data) - header_for(capacity);
  if (capacity >= kMinPooled) {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (capacity <= c.limit) {
      evict_locked(c.limit - capacity);
      c.free.push_back({capacity, base});
      c.cached += capacity;
      return;
    }
  }
  std::free(base);
}

void set_limit(size_t bytes) noexcept {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.limit = bytes;
  evict_locked(bytes);
}

size_t cached_bytes() noexcept {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.cached;
}

void trim() noexcept {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  evict_locked(0);
}

}  // namespace m3d::pool
