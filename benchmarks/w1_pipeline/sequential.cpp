// This file is part of actorflow. See README.md for the project's license.
//
// w1_pipeline/sequential.cpp: W1 as a plain loop, (e): the floor on work.

#include "w1_pipeline/w1.hpp"

namespace bench {

namespace {

/// Hides `x` from the optimizer: it cannot fold the loop into a closed form
/// or vectorize it, so every item is produced, transformed and summed.
void opaque(int& x) {
  asm volatile("" : "+r"(x));
}

} // namespace

double run_sequential(int n) {
  auto t0 = clock_type::now();
  uint64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    int x = i;
    opaque(x);
    sum += static_cast<uint64_t>((x + 1) * 2);
  }
  auto dt = seconds_since(t0);
  verify('e', n, sum);
  return dt;
}

} // namespace bench
