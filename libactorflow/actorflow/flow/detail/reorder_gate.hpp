// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace actorflow::detail {

/// The reorder gate of an ordered parallel stage, shared by its scatter and
/// gather (two actors of one process). The gather publishes how many items it
/// emitted; the scatter reads that instead of taking a token per item and
/// only when it runs out of window does it park and wait for one wake-up
/// token, which the gather sends once enough of the window is free again.
///
/// Parking is a Dekker handshake on two sequentially consistent atomics: the
/// scatter stores `parked` and then reads `emitted`, the gather stores
/// `emitted` and then reads `parked`, so at least one of them sees the other's
/// store and a wake-up is never lost. Whoever clears `parked` (the scatter
/// cancelling, or the gather claiming the wake-up) decides whether a token
/// travels, so exactly one token answers each claimed park.
struct reorder_gate {
  explicit reorder_gate(uint64_t window) : window(window) {
    // nop
  }

  /// How many items the scatter may dispatch ahead of the gather's output.
  const uint64_t window;

  /// Items the gather emitted (in order) so far.
  std::atomic<uint64_t> emitted{0};

  /// Non-zero while the scatter is parked: the value of `emitted` at which
  /// it wants to be woken.
  std::atomic<uint64_t> parked{0};

  /// Scatter: how many items, starting at `seq`, may go out now.
  size_t room(uint64_t seq) const noexcept {
    return static_cast<size_t>(
      window - (seq - emitted.load(std::memory_order_acquire)));
  }

  /// Scatter: true if item `seq` may go out now.
  bool open(uint64_t seq) const noexcept {
    return room(seq) > 0;
  }

  /// Scatter, when `open(seq)` returned false: parks. Returns true if the
  /// scatter must now wait for a wake-up token, false if it may go on (the
  /// gather caught up meanwhile and no token will come).
  bool park(uint64_t seq) noexcept {
    // Wake when half the window (at least the one slot `seq` needs) is free.
    auto want = seq + 1 - window + window / 2;
    parked.store(want, std::memory_order_seq_cst);
    if (emitted.load(std::memory_order_seq_cst) < want)
      return true;
    // Caught up: cancel the park, unless the gather claimed it already.
    auto expected = want;
    return !parked.compare_exchange_strong(expected, 0,
                                           std::memory_order_seq_cst);
  }

  /// Gather: publishes `n` emitted items. Returns true if it claimed the
  /// scatter's park and must send it one wake-up token.
  bool publish(uint64_t n) noexcept {
    emitted.store(n, std::memory_order_seq_cst);
    auto want = parked.load(std::memory_order_seq_cst);
    if (want == 0 || n < want)
      return false;
    return parked.compare_exchange_strong(want, 0, std::memory_order_seq_cst);
  }
};

} // namespace actorflow::detail
