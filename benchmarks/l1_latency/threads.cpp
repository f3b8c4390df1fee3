// This file is part of actorflow. See README.md for the project's license.
//
// l1_latency/threads.cpp: L1 through std::threads over bounded
// mutex/condvar queues, one item per push/pop.

#include <map>

#include "l1_latency/l1.hpp"

namespace bench {

std::vector<int64_t> run_threads(const l1_options& opt, double rate,
                                 int64_t n) {
  auto cap = opt.capacity != 0
               ? opt.capacity
               : std::clamp<size_t>(65536 / sizeof(l1_item), 1024, 16384);
  bounded_queue<l1_item> in{cap};
  bounded_queue<l1_item> work{cap};
  bounded_queue<l1_item> done{cap};
  l1_sink sink{n};
  std::thread first{[&] {
    while (auto x = in.pop())
      work.push(l1_first(*x));
    work.close();
  }};
  std::atomic<int> workers{2};
  auto second = [&] {
    while (auto x = work.pop())
      done.push(l1_second(*x));
    if (--workers == 0)
      done.close();
  };
  std::thread w1{second};
  std::thread w2{second};
  std::thread last{[&] {
    std::map<uint64_t, l1_item> held;
    uint64_t next = 0;
    while (auto x = done.pop()) {
      held.emplace(x->seq, *x);
      for (auto i = held.begin(); i != held.end() && i->first == next;
           i = held.erase(i), ++next)
        sink(i->second);
    }
  }};
  feed(rate, n, [&](l1_item x) { in.push(x); });
  in.close();
  for (auto* t : {&first, &w1, &w2, &last})
    t->join();
  return sink.take("threads");
}

} // namespace bench
