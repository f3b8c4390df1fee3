// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "actorflow/detail/export.hpp"

namespace actorflow {

/// A histogram of latencies with buckets a quarter of a power of two wide
/// (1 ns to 2^64 ns), so a percentile read from it is at most 25% above the
/// true value, and never below it. Fixed size (2 KiB), no allocation: a
/// stage's probe fills one while the stage runs (see `stage_stats::latency`).
///
/// ~~~
/// actorflow::latency_histogram h;
/// h.add(std::chrono::microseconds{40});
/// h.add(std::chrono::microseconds{90}, 3); // 3 items of 90 us
/// auto p50 = h.percentile(0.5);           // between 90 and 112.5 us
/// ~~~
class ACTORFLOW_EXPORT latency_histogram {
public:
  /// Buckets per power of two.
  static constexpr size_t sub_buckets = 4;

  /// How many buckets there are.
  static constexpr size_t bucket_count = 64 * sub_buckets;

  /// The bucket that holds `ns` nanoseconds: 0-3 hold 0-3 ns, and from
  /// there on each power of two splits into `sub_buckets` equal parts.
  static constexpr size_t bucket_of(uint64_t ns) noexcept {
    if (ns < sub_buckets)
      return static_cast<size_t>(ns);
    auto e = static_cast<size_t>(std::bit_width(ns)) - 1; // >= 2
    auto m = static_cast<size_t>((ns >> (e - 2)) & 3);
    return sub_buckets * (e - 1) + m;
  }

  /// The largest value bucket `b` holds, in nanoseconds.
  static constexpr uint64_t upper_bound(size_t b) noexcept {
    if (b < sub_buckets)
      return b;
    auto e = b / sub_buckets + 1;
    auto m = b % sub_buckets;
    auto next = (uint64_t{sub_buckets + m + 1} << (e - 2));
    return next == 0 ? UINT64_MAX : next - 1; // the last bucket ends at 2^64
  }

  /// Counts `n` items of latency `x` (negative: 0).
  void add(std::chrono::nanoseconds x, uint64_t n = 1) noexcept {
    auto ns = x.count() > 0 ? static_cast<uint64_t>(x.count()) : 0;
    buckets_[bucket_of(ns)] += n;
    count_ += n;
  }

  /// Adds the items of `other`.
  void merge(const latency_histogram& other) noexcept;

  /// How many items were counted.
  uint64_t count() const noexcept {
    return count_;
  }

  /// The latency that a share `q` (in [0, 1]) of the items did not exceed:
  /// the upper bound of the bucket that holds the item of rank
  /// `ceil(q * count())` (so `percentile(1)` bounds the maximum). Zero
  /// without items.
  std::chrono::nanoseconds percentile(double q) const noexcept;

  /// Items per bucket (see `bucket_of` and `upper_bound`).
  const std::array<uint64_t, bucket_count>& buckets() const noexcept {
    return buckets_;
  }

  /// @private Sets bucket `b` (a probe's reading).
  void set_bucket(size_t b, uint64_t n) noexcept {
    count_ += n - buckets_[b];
    buckets_[b] = n;
  }

private:
  std::array<uint64_t, bucket_count> buckets_{};
  uint64_t count_ = 0;
};

} // namespace actorflow
