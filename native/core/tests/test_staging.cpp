// The host-side bookkeeping of the GPU session (staging.h): when staged downloads
// reach their host targets, and when grow-on-demand buffers give memory back.
#include <cstring>
#include <vector>

#include "check.h"
#include "m3d/error.h"
#include "m3d/staging.h"

using namespace m3d;

namespace {

constexpr float kUntouched = -7.f;

// A pinned staging buffer of the session, modelled in host memory: stage() writes it
// as the device -> pinned copy would, after the claim.
struct FakeStaging {
  StagingQueue& q;
  std::vector<std::vector<float>> pinned = std::vector<std::vector<float>>(StagingQueue::kMaxBuffers);
  void stage(int id, const std::vector<float>& device, float* host) {
    q.claim(id);
    pinned[size_t(id)] = device;
    q.queue(id, pinned[size_t(id)].data(), host, device.size() * sizeof(float));
  }
};

bool untouched(const std::vector<float>& v) {
  for (float x : v) {
    if (x != kUntouched) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("staged copies reach their targets only at complete()") {
  StagingQueue q;
  FakeStaging f{q};
  const std::vector<float> depth{1.f, 2.f, 3.f}, normals{4.f, 5.f, 6.f, 7.f, 8.f, 9.f};
  std::vector<float> hostD(3, kUntouched), hostN(6, kUntouched);
  f.stage(0, depth, hostD.data());
  f.stage(1, normals, hostN.data());
  CHECK(q.active());
  CHECK(q.pending(0) && q.pending(1) && !q.pending(2));
  CHECK_EQ(q.queued(), size_t(2));
  CHECK(untouched(hostD) && untouched(hostN));
  q.complete();
  CHECK(hostD == depth);
  CHECK(hostN == normals);
  CHECK(!q.active());
  CHECK_EQ(q.queued(), size_t(0));
}

TEST_CASE("a staging buffer without a host target stays pending until complete()") {
  StagingQueue q;
  q.claim(3);
  q.queue(3, nullptr, nullptr, 16);
  CHECK(q.pending(3));
  CHECK_EQ(q.queued(), size_t(0));
  CHECK_THROWS_CODE(q.claim(3), code::kNative);
  q.complete();
  CHECK(!q.pending(3));
  q.claim(3);
  CHECK(q.pending(3));
}

TEST_CASE("discard() drops the queued copies and frees every buffer") {
  StagingQueue q;
  FakeStaging f{q};
  std::vector<float> host(4, kUntouched);
  f.stage(5, {1.f, 2.f, 3.f, 4.f}, host.data());
  q.discard();
  CHECK(!q.active());
  CHECK_EQ(q.queued(), size_t(0));
  q.complete();  // the next synchronisation runs nothing of the failed request
  CHECK(untouched(host));
  std::vector<float> next(2, kUntouched);
  f.stage(5, {8.f, 9.f}, next.data());  // the buffer serves the next request
  q.complete();
  CHECK(next == (std::vector<float>{8.f, 9.f}));
  CHECK(untouched(host));
}

TEST_CASE("destroying the queue never runs its copies") {
  std::vector<float> host(3, kUntouched);
  {
    StagingQueue q;
    FakeStaging f{q};
    f.stage(0, {1.f, 2.f, 3.f}, host.data());
  }
  CHECK(untouched(host));
}

TEST_CASE("staging a buffer again before its copy ran throws instead of handing over other data") {
  // The dense-normals case: the organised normals wait for their host copy when the
  // dense normals are staged. Sharing one staging buffer would copy the dense normals
  // (and stale data after them) into the organised result.
  StagingQueue q;
  FakeStaging f{q};
  const int kNormals = 2, kDenseNormals = 9;
  const std::vector<float> organised{1.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f};
  const std::vector<float> dense{0.f, 0.f, 1.f};
  std::vector<float> hostOrganised(9, kUntouched), hostDense(3, kUntouched);
  f.stage(kNormals, organised, hostOrganised.data());
  CHECK_THROWS_CODE(f.stage(kNormals, dense, hostDense.data()), code::kNative);
  CHECK(f.pinned[kNormals] == organised);  // the claim failed before the buffer was written
  f.stage(kDenseNormals, dense, hostDense.data());
  q.complete();
  CHECK(hostOrganised == organised);
  CHECK(hostDense == dense);
  f.stage(kNormals, dense, hostDense.data());  // free again after the synchronisation
  q.complete();
}

TEST_CASE("queue() needs a claim; buffer ids are checked") {
  StagingQueue q;
  float x = 0;
  CHECK_THROWS_CODE(q.queue(1, &x, &x, sizeof x), code::kNative);
  CHECK_THROWS_CODE(q.claim(-1), code::kNative);
  CHECK_THROWS_CODE(q.claim(StagingQueue::kMaxBuffers), code::kNative);
  CHECK(!q.pending(-1));
  CHECK(!q.pending(StagingQueue::kMaxBuffers));
  q.claim(StagingQueue::kMaxBuffers - 1);
  CHECK(q.pending(StagingQueue::kMaxBuffers - 1));
}

TEST_CASE("retention: a steady workload keeps its buffers") {
  RetentionWindow w({8, 2, 0});
  for (int i = 0; i < 100; ++i) {
    w.use(1000);
    CHECK(!w.end_request(1000));
  }
  // Sizes that vary within a factor of 2 keep the largest buffer too.
  for (int i = 0; i < 100; ++i) {
    w.use(i % 2 ? 1000 : 600);
    CHECK(!w.end_request(1000));
  }
}

TEST_CASE("retention: a much larger request's buffer goes once the window no longer holds it") {
  RetentionWindow w({4, 2, 0});
  w.use(100000);
  CHECK(!w.end_request(100000));
  for (int i = 1; i < 4; ++i) {
    w.use(1000);
    CHECK(!w.end_request(100000));  // the large request is one of the last 4
  }
  w.use(1000);
  CHECK_EQ(w.high_water(), size_t(1000));
  CHECK_EQ(w.limit(), size_t(2000));
  CHECK(w.end_request(100000));
  // Released, it grows back to the current size: kept from then on.
  w.use(1000);
  CHECK(!w.end_request(1000));
}

TEST_CASE("retention: an unused buffer goes after the window, a small one stays") {
  RetentionWindow unused({3, 2, 0});
  unused.use(5000);
  CHECK(!unused.end_request(5000));
  CHECK(!unused.end_request(5000));
  CHECK(!unused.end_request(5000));
  CHECK(unused.end_request(5000));

  RetentionWindow small({3, 2, 4096});
  small.use(4096);
  for (int i = 0; i < 10; ++i) CHECK(!small.end_request(4096));
  CHECK_EQ(small.limit(), size_t(4096));

  RetentionWindow empty;
  CHECK(!empty.end_request(0));
}

TEST_CASE("retention: the defaults keep 2x the largest of the last 8 requests, at least 1 MiB") {
  const RetentionPolicy p;
  CHECK_EQ(p.requests, 8);
  CHECK_EQ(p.factor, size_t(2));
  CHECK_EQ(p.floorBytes, size_t(1) << 20);
  RetentionWindow w;
  const size_t big = size_t(200) << 20, small = size_t(10) << 20;
  w.use(big);
  CHECK(!w.end_request(big));
  for (int i = 1; i < 8; ++i) {
    w.use(small);
    CHECK(!w.end_request(big));
  }
  w.use(small);
  CHECK(w.end_request(big));
  RetentionWindow huge({2, 2, 0});
  huge.use(SIZE_MAX);
  CHECK_EQ(huge.limit(), SIZE_MAX);
  CHECK(!huge.end_request(SIZE_MAX));
}

TEST_MAIN
