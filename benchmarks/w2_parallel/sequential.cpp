// This file is part of actorflow. See README.md for the project's license.
//
// w2_parallel/sequential.cpp: the sequential loop, (s): the floor of the
// parallel workloads and the reference every other variant is checked
// against.

#include "w2_parallel/w2.hpp"

namespace bench {

checksum sequential(const workload& w, int64_t first, int64_t last) {
  checksum c;
  for (auto x = first; x < last; ++x) {
    auto y = work(w, static_cast<uint64_t>(x));
    c.ordered = c.ordered * 31 + y;
    c.sum += y;
  }
  return c;
}

/// The sequential loop over all items (the reference every other variant is
/// checked against).
checksum sequential(const workload& w) {
  return sequential(w, 0, w.items);
}

} // namespace bench
