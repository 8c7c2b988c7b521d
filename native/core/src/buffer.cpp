#include "m3d/buffer.h"

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

struct Block {
  size_t capacity;
  void* base;
};

std::mutex g_mutex;
std::deque<Block> g_free;  // oldest first
size_t g_cached = 0;
size_t g_limit = size_t(256) << 20;

size_t& capacity_of(void* data) { return *reinterpret_cast<size_t*>(static_cast<char*>(data) - kHeader); }

void evict_locked(size_t keep) {
  while (g_cached > keep && !g_free.empty()) {
    g_cached -= g_free.front().capacity;
    std::free(g_free.front().base);
    g_free.pop_front();
  }
}

}  // namespace

void* acquire(size_t bytes) {
  const size_t capacity = bytes < kMinPooled ? (bytes + kAlign - 1) / kAlign * kAlign
                                             : (bytes + kGranule - 1) / kGranule * kGranule;
  if (capacity >= kMinPooled) {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (auto it = g_free.rbegin(); it != g_free.rend(); ++it) {
      if (it->capacity == capacity) {
        void* base = it->base;
        g_cached -= capacity;
        g_free.erase(std::next(it).base());
        return static_cast<char*>(base) + kHeader;
      }
    }
  }
  void* base = std::aligned_alloc(kAlign, capacity + kHeader);
  if (!base) throw Error(code::kOutOfMemory, "out of memory allocating " + std::to_string(bytes) + " bytes");
  void* data = static_cast<char*>(base) + kHeader;
  capacity_of(data) = capacity;
  return data;
}

void release(void* data) noexcept {
  if (!data) return;
  const size_t capacity = capacity_of(data);
  void* base = static_cast<char*>(data) - kHeader;
  if (capacity >= kMinPooled) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (capacity <= g_limit) {
      evict_locked(g_limit - capacity);
      g_free.push_back({capacity, base});
      g_cached += capacity;
      return;
    }
  }
  std::free(base);
}

void set_limit(size_t bytes) noexcept {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_limit = bytes;
  evict_locked(bytes);
}

size_t cached_bytes() noexcept {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_cached;
}

void trim() noexcept {
  std::lock_guard<std::mutex> lock(g_mutex);
  evict_locked(0);
}

}  // namespace m3d::pool
