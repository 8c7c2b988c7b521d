// Row-parallel loops on one persistent worker pool shared by the whole process.
#pragma once

#include <functional>

namespace m3d {

// Threads the CPU ops use per call, the calling thread included; 0 restores the default
// (METRIC3D_THREADS when set to a positive number, else the hardware concurrency; at most 64).
void set_num_threads(int n);
int num_threads();

// Pool workers started so far (num_threads() - 1 once a parallel call has run, fewer
// when the system refused to create threads).
int pool_workers();

// Calls fn(begin, end) over [0, n) split into contiguous chunks, on the calling thread
// and up to num_threads() - 1 pool workers. Runs inline when the work is small
// (n * costPerItem below a threshold), when one thread is configured or when no worker
// thread could be created. Calls may overlap from several threads: each caller works on
// its own chunks too, so a call finishes even while every worker serves another one.
// An exception thrown by fn in any thread is rethrown in the caller.
void parallel_for(int n, double costPerItem, const std::function<void(int, int)>& fn);

}  // namespace m3d
