// This file is part of actorflow. See README.md for the project's license.
//
// l1_latency/l1.hpp: workload L1, the latency of one item through a
// 3-stage pipeline (then, parallel_then(2), for_each) fed by a paced source
// thread, run by bench_latency. Every peer has its file beside this one;
// each run_* function feeds `n` items at `rate` items/s, verifies that every
// item came once, in order and computed right (exit 1 if not), and returns
// each item's latency.
//
// Latency is measured from an item's intended send time (its slot on the
// source's schedule) to its arrival in the sink, so a source held back by
// the pipeline does not hide the wait (no coordinated omission).

#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "common.hpp"

namespace bench {

/// One item of L1. The stages compute `value`: then sets seq + 1, the
/// parallel stage doubles it, and the sink checks 2 * (seq + 1).
struct l1_item {
  uint64_t seq = 0;
  uint64_t value = 0;
  int64_t due_ns = 0; // intended send time (steady clock)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, l1_item& x) {
  return f(caf::meta::type_name("l1_item"), x.seq, x.value, x.due_ns);
}

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

/// The first stage's work.
inline l1_item l1_first(l1_item x) {
  x.value = x.seq + 1;
  return x;
}

/// The parallel stage's work.
inline l1_item l1_second(l1_item x) {
  x.value *= 2;
  return x;
}

/// The sink: records every item's latency and checks it came once, in order,
/// with the right value. Used by one thread (or actor) at a time.
class l1_sink {
public:
  explicit l1_sink(int64_t n) : lat_(static_cast<size_t>(n), -1) {
    // nop
  }

  void operator()(const l1_item& x) {
    auto t = now_ns();
    if (x.seq != next_ || x.seq >= lat_.size() || x.value != 2 * (x.seq + 1))
      bad_ = true;
    else
      lat_[x.seq] = t - x.due_ns;
    ++next_;
    if (next_ == lat_.size())
      done_.store(true, std::memory_order_release);
  }

  bool done() const {
    return done_.load(std::memory_order_acquire);
  }

  /// The latencies in ns; dies unless every item came once, in order and
  /// right (`who` names the peer).
  std::vector<int64_t> take(const std::string& who) {
    if (bad_ || next_ != lat_.size()
        || std::any_of(lat_.begin(), lat_.end(),
                       [](int64_t x) { return x < 0; }))
      die(who + ": items lost, duplicated, reordered or wrong ("
          + std::to_string(next_) + " of " + std::to_string(lat_.size())
          + " came)");
    return std::move(lat_);
  }

private:
  std::vector<int64_t> lat_;
  uint64_t next_ = 0;
  bool bad_ = false;
  std::atomic<bool> done_{false};
};

/// Calls `push(item)` for items 0..n-1, item i at its slot `start + i /
/// rate` (sleeping while the slot is far, spinning when it is near); a
/// `rate` of 0 pushes as fast as `push` returns. `push` may block
/// (backpressure): the items behind it then leave late, and their latency
/// counts from their slot.
template <class Push>
void feed(double rate, int64_t n, Push push) {
  auto start = now_ns() + 1'000'000; // 1 ms from now
  auto gap = rate > 0 ? 1e9 / rate : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    auto due = rate > 0 ? start + static_cast<int64_t>(gap * i) : now_ns();
    for (auto now = now_ns(); now < due; now = now_ns())
      if (due - now > 200'000)
        std::this_thread::sleep_for(
          std::chrono::nanoseconds{due - now - 100'000});
    push(l1_item{static_cast<uint64_t>(i), 0, due});
  }
}

/// Settings of the L1 peers.
struct l1_options {
  /// Capacity of actorflow's channels and the threads' queues (0: the
  /// DSL's default for the item type).
  size_t capacity = 0;
  /// `run_options::linger` of variant (e).
  std::chrono::nanoseconds linger{std::chrono::microseconds{50}};
  /// Print the per-stage table (latency p50/p99 included) of every paced
  /// run of (a) and (e) to stderr.
  bool stages = false;
};

// -- the peers, one file per peer ---------------------------------------------

// actorflow.cpp

/// (a) The stream DSL: from(channel).then(f).parallel_then(2, g).for_each(h)
/// with default settings, or (e) with `linger`; the source thread uses
/// blocking_send.
std::vector<int64_t> run_af(caf::actor_system& sys, const l1_options& opt,
                            double rate, int64_t n,
                            std::chrono::nanoseconds linger = {});

// caf_actors.cpp

/// (b) Plain CAF actors, one message per item: a stage actor (f) that deals
/// to two worker actors (g) round robin, a gather actor that restores the
/// order, and a sink actor; the source thread uses anon_send.
std::vector<int64_t> run_caf_actors(caf::actor_system& sys, double rate,
                                    int64_t n);

// tbb.cpp

/// (c) oneTBB flow graph: a serial function_node (f), a function_node of
/// concurrency 2 (g), a sequencer_node and a serial sink node; the source
/// thread uses try_put.
std::vector<int64_t> run_tbb_graph(double rate, int64_t n);

// threads.cpp

/// (d) std::threads over bounded mutex/condvar queues, one item per
/// push/pop: a thread for f, two for g, one that restores the order and
/// sinks.
std::vector<int64_t> run_threads(const l1_options& opt, double rate, int64_t n);

} // namespace bench
