// Row-parallel loops on plain std::threads (no global pool: each call joins its workers).
#pragma once

#include <functional>

namespace m3d {

// Worker count used by the CPU ops; 0 restores the default (hardware concurrency).
void set_num_threads(int n);
int num_threads();

// Calls fn(begin, end) over [0, n) split into contiguous chunks. Runs inline when the
// work is small (n * costPerItem below a threshold) or when one thread is configured.
// An exception thrown by fn in any worker is rethrown in the caller.
void parallel_for(int n, double costPerItem, const std::function<void(int, int)>& fn);

}  // namespace m3d
