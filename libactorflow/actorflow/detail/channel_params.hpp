// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace actorflow::detail {

/// Shared, lock-free instruments of one channel, readable from any thread.
struct channel_stats {
  std::atomic<uint64_t> pushed{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> returned{0};
  std::atomic<uint64_t> lost{0};
  /// Items dropped because the pipeline of the channel stopped.
  std::atomic<uint64_t> cancelled{0};
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> max_in_flight{0};
  /// Set by a pipeline that is cancelled or failed, before it stops its
  /// stages: from then on the channel drops what it would hand back or lose,
  /// and counts it in `cancelled`.
  std::atomic<bool> stopping{false};

  /// Counts `n` items the channel cannot deliver any more.
  void count_dropped(uint64_t n) noexcept {
    auto& counter = stopping.load(std::memory_order_acquire) ? cancelled : lost;
    counter.fetch_add(n, std::memory_order_relaxed);
  }
};

/// The largest capacity a channel may have: credits and counts travel as
/// 32-bit values, and a signed one must hold them too.
constexpr uint32_t max_channel_capacity = 0x7fffffff;

/// Settings shared by both ends of one channel.
struct channel_params {
  uint32_t capacity;
  uint32_t batch;
  /// Read-ahead of each receiver; 0 picks `window()`.
  uint32_t read_ahead = 0;
  /// Non-zero: a coroutine receiver sizes its read-ahead to about this much
  /// work (nanoseconds), measured while it runs, within [1, rx_window()].
  uint32_t read_ahead_ns = 0;
  /// Non-zero: a sender in a worker holds a partly filled batch for up to
  /// this long (on its host's clock) instead of sending it when the worker
  /// suspends (`channel_options::linger`).
  int64_t linger_ns = 0;

  /// How many credits a sender asks for, and how many items a receiver
  /// keeps in read-ahead: two batches (so one travels while the other is
  /// worked on), but never more than half the capacity (so both sides can
  /// hold some at the same time).
  uint32_t window() const noexcept {
    auto half = capacity / 2;
    auto two = batch * 2;
    return std::max<uint32_t>(1, std::min(half, two));
  }

  /// How many items a receiver keeps in read-ahead.
  uint32_t rx_window() const noexcept {
    return read_ahead != 0 ? read_ahead : window();
  }
};

} // namespace actorflow::detail
