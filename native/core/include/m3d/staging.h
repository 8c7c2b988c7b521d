// Host-side bookkeeping of a GPU session, with no CUDA types so that it builds and is
// tested on machines without a GPU:
// - StagingQueue: which pinned staging buffers hold a download that has not reached
//   its host target yet, and the host copies that wait for the stream's synchronisation;
// - RetentionWindow: the trim policy of one grow-on-demand buffer (device or pinned).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace m3d {

// A session's download goes device -> pinned staging buffer (enqueued on the stream),
// then pinned -> host target once the stream was synchronised. The queue holds those
// second copies and marks each staging buffer as pending from its claim until the
// copies ran (complete) or were dropped (discard). Destroying the queue drops them:
// a copy runs only at complete(), never on an error path.
class StagingQueue {
 public:
  static constexpr int kMaxBuffers = 32;

  StagingQueue() = default;
  StagingQueue(const StagingQueue&) = delete;
  StagingQueue& operator=(const StagingQueue&) = delete;

  // Reserves staging buffer `id` (0 .. kMaxBuffers - 1) for a download, before the
  // buffer is resized or written. Throws m3d::Error ERR_NATIVE when the buffer is
  // pending: staging into it again would overwrite (or free) data whose host copy has
  // not run yet.
  void claim(int id);
  // Queues the host copy of claimed buffer `id`: `bytes` from `staged` to `host` at
  // complete(). A null host queues nothing: the data stays in the staging buffer.
  void queue(int id, const void* staged, void* host, size_t bytes);
  // Call after the stream was synchronised: runs the queued copies in order, then
  // every buffer is free again.
  void complete();
  // Drops the queued copies without running them (the request failed or was
  // abandoned); every buffer is free again.
  void discard() noexcept;

  bool pending(int id) const noexcept;
  bool active() const noexcept { return pending_ != 0; }  // some buffer is pending
  size_t queued() const noexcept { return copies_.size(); }

 private:
  struct Copy {
    const void* from;
    void* to;
    size_t bytes;
  };
  static uint32_t bit(int id);
  std::vector<Copy> copies_;
  uint32_t pending_ = 0;
};

// When a grow-on-demand buffer gives memory back: at the end of each request, a buffer
// whose capacity exceeds max(factor x the largest size it served in the last
// `requests` requests, floorBytes) is released (the next request that needs it
// allocates its own size). A steady workload never reallocates; the buffers of one
// request much larger than the recent ones are released once `requests` requests
// have not needed them; buffers of floorBytes or less are kept.
struct RetentionPolicy {
  int requests = 8;
  size_t factor = 2;
  size_t floorBytes = size_t(1) << 20;
};

class RetentionWindow {
 public:
  explicit RetentionWindow(RetentionPolicy policy = {});
  // The current request asked the buffer for `bytes`.
  void use(size_t bytes) noexcept;
  // Ends the current request; true when a buffer of `capacity` bytes should be
  // released now.
  bool end_request(size_t capacity) noexcept;
  // The largest size served in the window, the current request included.
  size_t high_water() const noexcept;
  // The largest capacity end_request() keeps.
  size_t limit() const noexcept;

 private:
  RetentionPolicy policy_;
  std::vector<size_t> served_;  // ring of the last completed requests
  size_t next_ = 0;
  size_t current_ = 0;
};

}  // namespace m3d
