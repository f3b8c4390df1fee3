// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The instruments behind `actorflow::pipeline_stats` (see stats.hpp). One
// `stage_probe` per stage actor: the actor is its only writer, any thread may
// read it at any time.
//
// Cost model: no clock reading and no atomic read-modify-write per item.
// - Items: endpoints count with plain counters they already keep (consumed
//   items of a receiver, pushed items of a sender) and add them to their
//   `port_probe` with a relaxed load + store when they report to the channel
//   anyway (at the end of an activation, every half read-ahead window, when
//   a batch is full, on close).
// - Time: two clock readings per activation of the stage's actor that
//   resumes its coroutine (enter, leave); none for activations that only
//   handle protocol messages. Outside those activations the coroutine is
//   suspended, and the endpoint it suspended on says why (credit: stalled;
//   input: idle; anything else: waiting). The clock is the invariant TSC
//   where there is one (~30 ns per enter + leave in a VM, against ~115 ns
//   with the steady clock), converted to ns with a rate measured once.
// - Latency: one clock reading per batch of items. The channel actor stamps
//   every batch pushed into it; the batch it delivers to a receiver carries
//   the stamp of its oldest item, and once the stage took the delivery's
//   last item, the end of that activation (when the stage's outputs leave)
//   adds `now - stamp` for each of the delivery's items to the stage's
//   histogram.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "actorflow/detail/export.hpp"
#include "actorflow/error_policy.hpp"
#include "actorflow/latency_histogram.hpp"

#if defined(__x86_64__) || defined(__i386__)
#  include <x86intrin.h>
#  define ACTORFLOW_PROBE_TSC 1
#else
#  define ACTORFLOW_PROBE_TSC 0
#endif

namespace actorflow {

/// What a pipeline stage is doing right now (or did last).
enum class stage_state : uint8_t {
  /// Spawned, not yet run.
  starting = 0,
  /// Running: inside an activation of its actor.
  busy,
  /// Suspended in `send`, waiting for credit (backpressure), or waiting for a
  /// reorder token of `parallel_then` (the same thing one step further).
  stalled,
  /// Suspended in `recv`, waiting for input.
  idle,
  /// Suspended on anything else, e.g. `co_await actorflow::ask(...)`.
  waiting,
  /// Ended (successfully or not).
  done,
};

/// Returns a lowercase name of `x` ("busy", "stalled", ...).
ACTORFLOW_EXPORT const char* to_string(stage_state x) noexcept;

} // namespace actorflow

namespace actorflow::detail {

struct channel_stats;

/// Nanoseconds on the steady clock.
inline int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

/// True if the CPU has an invariant time-stamp counter (x86: constant rate,
/// running in every power state).
ACTORFLOW_EXPORT bool detect_invariant_tsc() noexcept;

/// True if `probe_clock` reads the time-stamp counter (decided once).
inline bool probe_clock_is_tsc() noexcept {
  static const bool result = detect_invariant_tsc();
  return result;
}

/// The clock of the probes, in ticks: the time-stamp counter where it is
/// invariant (a few ns per reading, where the steady clock costs 20-60 ns
/// in a VM), else steady-clock nanoseconds. Convert with `probe_tick_ns`.
inline int64_t probe_clock() noexcept {
#if ACTORFLOW_PROBE_TSC
  if (probe_clock_is_tsc())
    return static_cast<int64_t>(__rdtsc());
#endif
  return steady_ns();
}

/// Measures the rate of `probe_clock` against the steady clock, once per
/// process (0.5 ms; the first pipeline's build calls it).
ACTORFLOW_EXPORT void start_probe_calibration() noexcept;

/// Nanoseconds per tick of `probe_clock` (1 without a TSC).
ACTORFLOW_EXPORT double probe_tick_ns() noexcept;

/// Adds `n` to a counter that only one thread at a time writes (no locked
/// read-modify-write needed; readers see either value).
template <class T, class U>
inline void bump(std::atomic<T>& x, U n) noexcept {
  x.store(x.load(std::memory_order_relaxed) + static_cast<T>(n),
          std::memory_order_relaxed);
}

/// Adds the time from `since` to `now` (ticks; never negative, should two
/// cores' counters disagree slightly).
inline void add_span(std::atomic<int64_t>& x, int64_t since,
                     int64_t now) noexcept {
  if (now > since)
    bump(x, now - since);
}

/// One channel end of a stage: items taken (input) or sent (output).
struct port_probe {
  port_probe(bool is_input, bool is_control,
             std::shared_ptr<const channel_stats> ch, uint32_t cap)
    : input(is_input),
      control(is_control),
      channel(std::move(ch)),
      capacity(cap) {
    // nop
  }

  /// True for a receiver, false for a sender.
  const bool input;
  /// A control channel (parallel_then's reorder tokens): its items are not
  /// the stage's items, and waiting on it counts as stalled.
  const bool control;
  /// Identifies the channel (null if unknown: bound at run time).
  const std::shared_ptr<const channel_stats> channel;
  const uint32_t capacity;
  /// Items taken (input) or accepted by `send` (output).
  std::atomic<uint64_t> items{0};
};

/// The instruments of one stage actor.
class ACTORFLOW_EXPORT stage_probe {
public:
  /// Indexes of `times::ticks`.
  enum bucket : uint8_t {
    busy_ticks = 0,
    stalled_ticks,
    idle_ticks,
    waiting_ticks
  };

  /// A consistent reading of the clocks of a stage, in `probe_clock` ticks.
  struct times {
    int64_t ticks[4] = {0, 0, 0, 0};
    stage_state state = stage_state::starting;
  };

  explicit stage_probe(std::string name) : name_(std::move(name)) {
    // nop
  }

  stage_probe(const stage_probe&) = delete;
  stage_probe& operator=(const stage_probe&) = delete;

  const std::string& name() const noexcept {
    return name_;
  }

  // -- writer side: the stage's actor only ------------------------------------

  /// The stage's code starts running.
  void enter() noexcept {
    auto s = state_.load(std::memory_order_relaxed);
    if (s == stage_state::busy || s == stage_state::done)
      return;
    move_to(s, stage_state::busy);
  }

  /// The activation that ran the stage's code ends; the stage now waits in
  /// state `next`.
  void leave(stage_state next) noexcept {
    if (state_.load(std::memory_order_relaxed) != stage_state::busy)
      return;
    move_to(stage_state::busy, next);
  }

  /// The stage ended; later activations (close acknowledgements) no longer
  /// count.
  void finish() noexcept {
    auto s = state_.load(std::memory_order_relaxed);
    if (s == stage_state::done)
      return;
    move_to(s, stage_state::done);
  }

  /// `n` items that entered the stage's input channel `ticks` ago (probe
  /// clock ticks) leave the stage now.
  void record_latency(int64_t ticks, uint64_t n) noexcept {
    auto ns = ticks > 0 ? static_cast<double>(ticks) * probe_tick_ns() : 0.0;
    auto b = latency_histogram::bucket_of(static_cast<uint64_t>(ns));
    bump(latency_[b], n);
  }

  /// A call of the stage's function failed, and the stage does `what` next
  /// (see `error_policy`).
  void count_failure(failure_action what) noexcept {
    bump(failures_[static_cast<size_t>(what)], 1);
  }

  /// The remote worker this stage supervises was lost (its node died, hung
  /// or disconnected).
  void count_worker_lost() noexcept {
    bump(workers_lost_, 1);
  }

  // -- ports (set up while building, or when an endpoint binds) --------------

  /// Adds a channel end. The returned pointer stays valid as long as the
  /// probe lives.
  port_probe* add_port(bool input, bool control,
                       std::shared_ptr<const channel_stats> ch,
                       uint32_t capacity) {
    std::lock_guard guard{ports_mtx_};
    return &ports_.emplace_back(input, control, std::move(ch), capacity);
  }

  /// Calls `f(const port_probe&)` for every port.
  template <class F>
  void for_each_port(F&& f) const {
    std::lock_guard guard{ports_mtx_};
    for (auto& p : ports_)
      f(p);
  }

  // -- reader side: any thread -------------------------------------------------

  /// Reads the clocks; a stage that still runs gets the time since its last
  /// transition added to its current state.
  times read(int64_t now) const noexcept {
    times result;
    int64_t since = 0;
    for (int attempt = 0;; ++attempt) {
      auto s1 = seq_.load(std::memory_order_acquire);
      if ((s1 & 1) == 0) {
        for (int i = 0; i < 4; ++i)
          result.ticks[i] = ticks_[i].load(std::memory_order_relaxed);
        result.state = state_.load(std::memory_order_relaxed);
        since = since_.load(std::memory_order_relaxed);
        if (read_end() == s1)
          break;
      }
      if (attempt > 16)
        std::this_thread::yield(); // the writer was preempted mid-update
    }
    auto s = result.state;
    if (s != stage_state::starting && s != stage_state::done && now > since)
      result.ticks[index(s)] += now - since;
    return result;
  }

  /// Reads the latency histogram (bucket by bucket: a reading while the
  /// stage runs may miss the items of its current activation).
  latency_histogram read_latency() const noexcept {
    latency_histogram result;
    for (size_t b = 0; b < latency_histogram::bucket_count; ++b)
      if (auto n = latency_[b].load(std::memory_order_relaxed); n > 0)
        result.set_bucket(b, n);
    return result;
  }

  /// Failed calls so far that ended in `what`.
  uint64_t failures(failure_action what) const noexcept {
    return failures_[static_cast<size_t>(what)].load(std::memory_order_relaxed);
  }

  /// Remote workers lost so far (see `count_worker_lost`).
  uint64_t workers_lost() const noexcept {
    return workers_lost_.load(std::memory_order_relaxed);
  }

private:
  /// Leaves state `from` (adding the time spent in it, unless the stage was
  /// only starting) for state `to`.
  void move_to(stage_state from, stage_state to) noexcept {
    auto now = probe_clock();
    write_begin();
    if (from != stage_state::starting)
      add_span(ticks_[index(from)], since_.load(std::memory_order_relaxed),
               now);
    since_.store(now, std::memory_order_relaxed);
    state_.store(to, std::memory_order_relaxed);
    write_end();
  }

  static int index(stage_state s) noexcept {
    return static_cast<int>(s) - static_cast<int>(stage_state::busy);
  }

  // A sequence lock: odd while the writer updates the clocks.
  // ThreadSanitizer does not model fences (GCC: -Wtsan). Under it, a
  // read-modify-write of the sequence orders the same accesses (slower, as
  // Boehm's "Can seqlocks get along with programming language memory
  // models?" shows); the clocks are atomics either way.
  void write_begin() noexcept {
#ifdef __SANITIZE_THREAD__
    seq_.fetch_add(1, std::memory_order_acq_rel);
#else
    seq_.store(seq_.load(std::memory_order_relaxed) + 1,
               std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
#endif
  }

  /// The sequence after the reader's loads of the clocks.
  uint64_t read_end() const noexcept {
#ifdef __SANITIZE_THREAD__
    return seq_.fetch_add(0, std::memory_order_acq_rel);
#else
    std::atomic_thread_fence(std::memory_order_acquire);
    return seq_.load(std::memory_order_relaxed);
#endif
  }

  void write_end() noexcept {
    seq_.store(seq_.load(std::memory_order_relaxed) + 1,
               std::memory_order_release);
  }

  const std::string name_;
  mutable std::atomic<uint64_t> seq_{0};
  std::atomic<int64_t> ticks_[4] = {0, 0, 0, 0};
  std::atomic<int64_t> since_{0};
  std::atomic<stage_state> state_{stage_state::starting};
  std::atomic<uint64_t> latency_[latency_histogram::bucket_count] = {};
  std::atomic<uint64_t> failures_[3] = {0, 0, 0}; // by failure_action
  std::atomic<uint64_t> workers_lost_{0};
  mutable std::mutex ports_mtx_;
  std::deque<port_probe> ports_;
};

} // namespace actorflow::detail
