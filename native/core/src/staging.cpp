// Host-side bookkeeping of the GPU session (staging.h).
#include "m3d/staging.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "m3d/error.h"

namespace m3d {

uint32_t StagingQueue::bit(int id) {
  if (id < 0 || id >= kMaxBuffers) {
    throw Error(code::kNative, "staging buffer " + std::to_string(id) + " does not exist");
  }
  return uint32_t(1) << id;
}

void StagingQueue::claim(int id) {
  const uint32_t b = bit(id);
  if (pending_ & b) {
    throw Error(code::kNative, "staging buffer " + std::to_string(id) +
                                   " was staged again before the copy of its previous download ran");
  }
  pending_ |= b;
}

void StagingQueue::queue(int id, const void* staged, void* host, size_t bytes) {
  if (!(pending_ & bit(id))) {
    throw Error(code::kNative, "staging buffer " + std::to_string(id) + " was written without a claim");
  }
  if (host && bytes > 0) copies_.push_back(Copy{staged, host, bytes});
}

void StagingQueue::complete() {
  for (const Copy& c : copies_) std::memcpy(c.to, c.from, c.bytes);
  discard();
}

void StagingQueue::discard() noexcept {
  copies_.clear();
  pending_ = 0;
}

bool StagingQueue::pending(int id) const noexcept {
  return id >= 0 && id < kMaxBuffers && (pending_ & (uint32_t(1) << id)) != 0;
}

RetentionWindow::RetentionWindow(RetentionPolicy policy)
    : policy_(policy), served_(static_cast<size_t>(std::max(policy.requests, 1)) - 1, 0) {}

void RetentionWindow::use(size_t bytes) noexcept { current_ = std::max(current_, bytes); }

size_t RetentionWindow::high_water() const noexcept {
  size_t most = current_;
  for (size_t s : served_) most = std::max(most, s);
  return most;
}

size_t RetentionWindow::limit() const noexcept {
  const size_t most = high_water();
  const size_t scaled = most > SIZE_MAX / std::max<size_t>(policy_.factor, 1) ? SIZE_MAX : most * policy_.factor;
  return std::max(scaled, policy_.floorBytes);
}

bool RetentionWindow::end_request(size_t capacity) noexcept {
  const bool release = capacity > limit();
  if (!served_.empty()) {
    served_[next_] = current_;
    next_ = (next_ + 1) % served_.size();
  }
  current_ = 0;
  return release;
}

}  // namespace m3d
