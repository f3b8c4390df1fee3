// This file is part of actorflow. See README.md for the project's license.
//
// w2_parallel/threads.cpp: the machine's ceiling, (p): n std::threads each
// run the sequential loop over 1/n of the items, with no communication.

#include "w2_parallel/w2.hpp"

namespace bench {

result run_independent(const par_options& opt, const workload& w) {
  auto n = std::max<size_t>(1, opt.workers);
  std::vector<uint64_t> sums(n, 0);
  std::vector<std::thread> threads;
  auto t0 = clock_type::now();
  for (size_t t = 0; t < n; ++t) {
    auto first = w.items * static_cast<int64_t>(t) / static_cast<int64_t>(n);
    auto last = w.items * static_cast<int64_t>(t + 1) / static_cast<int64_t>(n);
    threads.emplace_back([&w, &sums, t, first, last] {
      sums[t] = sequential(w, first, last).sum;
    });
  }
  for (auto& th : threads)
    th.join();
  auto dt = seconds_since(t0);
  uint64_t sum = 0;
  for (auto s : sums)
    sum += s;
  return {dt, sum};
}

} // namespace bench
