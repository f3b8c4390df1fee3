// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/latency_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace actorflow {

void latency_histogram::merge(const latency_histogram& other) noexcept {
  for (size_t b = 0; b < bucket_count; ++b)
    buckets_[b] += other.buckets_[b];
  count_ += other.count_;
}

std::chrono::nanoseconds latency_histogram::percentile(
  double q) const noexcept {
  if (count_ == 0)
    return std::chrono::nanoseconds{0};
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t b = 0; b < bucket_count; ++b) {
    seen += buckets_[b];
    if (seen >= rank) {
      auto ub = upper_bound(b);
      constexpr auto most = static_cast<uint64_t>(
        std::numeric_limits<std::chrono::nanoseconds::rep>::max());
      return std::chrono::nanoseconds{
        static_cast<std::chrono::nanoseconds::rep>(std::min(ub, most))};
    }
  }
  return std::chrono::nanoseconds::max(); // not reached
}

} // namespace actorflow
