// This file is part of actorflow. See README.md for the project's license.
//
// w1_pipeline/w1.hpp: workload W1, source 0..N-1 -> x+1 -> x*2 -> sum
// (expected sum N*(N+1)), run by bench_pipeline and bench_suite. Every peer
// has its file beside this one and defines its variants there; each run_*
// function times one run, verifies its sum (exit 1 if wrong) and returns the
// wall time in seconds.

#pragma once

#include <chrono>

#include "common.hpp"

namespace bench {

/// Settings of the W1 variants.
struct w1_options {
  /// Channel / queue capacity in items: by default 16384, what the DSL's
  /// automatic capacity picks for `int` (64 KiB), for every variant.
  size_t capacity = 16384;
  /// actorflow channel_options.batch (0: the library's choice).
  uint32_t af_batch = 0;
  /// Batch size of the batched std::thread queue.
  size_t queue_batch = 256;
  /// TBB max_number_of_live_tokens.
  size_t tbb_tokens = 1024;
};

// -- verification -------------------------------------------------------------

inline uint64_t expected_sum(int64_t n) {
  // sum over i in [0, n) of 2 * (i + 1) = n * (n + 1)
  return static_cast<uint64_t>(n) * static_cast<uint64_t>(n + 1);
}

inline void verify(char variant, int64_t n, uint64_t sum) {
  if (sum != expected_sum(n)) {
    std::ostringstream os;
    os << "variant " << variant << ": wrong sum for N=" << n << ": got " << sum
       << ", expected " << expected_sum(n);
    die(os.str());
  }
}

/// What one actorflow run observed about its channels (diagnostics only).
struct af_probe {
  actorflow::channel_metrics ch[3];
};

// -- the variants, one file per peer ------------------------------------------

// actorflow.cpp

/// (a) Source, x+1, x*2 and sink as four coroutine workers joined by three
/// channels, one item per recv/send.
double run_af_workers(caf::actor_system& sys, const w1_options& opt, int n,
                      af_probe& probe);

/// (b) A thread source (spawn_blocking_worker, blocking_send) and the calling
/// thread as the sink (blocking_recv) around the coroutine stages of (a): the
/// cost of the thread <-> actor bridge.
double run_af_bridge(caf::actor_system& sys, const w1_options& opt, int n,
                     af_probe& probe);

/// (f) The stream DSL: iota(0, N).then(x+1).then(x*2).fold(0, +); (k) the
/// same with the stall watchdog on (`watchdog`: its threshold, 0 = off).
double run_af_dsl(caf::actor_system& sys, const w1_options& opt, int n,
                  std::chrono::nanoseconds watchdog = {});

/// (j) The workers of (a) with recv_many/send_many.
double run_af_workers_many(caf::actor_system& sys, const w1_options& opt, int n,
                           af_probe& probe);

// threads.cpp

/// (c) Four std::threads over mutex/condvar queues, one item at a time.
double run_threads_naive(const w1_options& opt, int n);

/// (d) The same, the queues moving batches of opt.queue_batch items.
double run_threads_batched(const w1_options& opt, int n);

// sequential.cpp

/// (e) A plain loop.
double run_sequential(int n);

// tbb.cpp

/// (g) oneTBB parallel_pipeline, four serial_in_order filters.
double run_tbb(const w1_options& opt, int n);

/// (i) oneTBB flow graph, four serial nodes.
double run_tbb_flow_graph(int n);

// caf_streams.cpp

/// (h) CAF 0.17's built-in streams.
double run_caf_streams(caf::actor_system& sys, int n);

} // namespace bench
