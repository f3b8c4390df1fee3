// This file is part of actorflow. See README.md for the project's license.
//
// l1_latency/actorflow.cpp: L1 through the stream DSL.

#include <iostream>
#include <memory>

#include "l1_latency/l1.hpp"

namespace bench {

std::vector<int64_t> run_af(caf::actor_system& sys, const l1_options& opt,
                            double rate, int64_t n,
                            std::chrono::nanoseconds linger) {
  // The DSL's default for the channels it makes: 64 KiB of items.
  auto cap = opt.capacity != 0
               ? opt.capacity
               : std::clamp<size_t>(65536 / sizeof(l1_item), 1024, 16384);
  auto ch = actorflow::channel<l1_item>(sys, cap);
  if (!ch)
    die("actorflow: " + actorflow::to_string_any(ch.error()));
  l1_sink sink{n};
  std::thread source{[&, tx = std::move(ch->tx)]() mutable {
    feed(rate, n, [&](l1_item x) {
      if (!tx.blocking_send(x))
        die("actorflow: the pipeline stopped taking items");
    });
    tx.close();
  }};
  actorflow::run_options ro;
  ro.linger = linger;
  if (opt.stages && rate > 0)
    ro.monitor = std::make_shared<actorflow::pipeline_monitor>();
  if (opt.capacity != 0)
    ro.capacity = opt.capacity;
  auto res = actorflow::from(std::move(ch->rx))
               .then(l1_first)
               .parallel_then(2, l1_second)
               .for_each([&sink](l1_item x) { sink(x); })
               .run(sys, ro);
  source.join();
  if (!res)
    die("actorflow: " + actorflow::to_string_any(res.error()));
  if (ro.monitor)
    std::cerr << "actorflow" << (linger.count() > 0 ? " with linger" : "")
              << " at " << static_cast<int64_t>(rate) << " items/s:\n"
              << actorflow::to_string(ro.monitor->stats());
  return sink.take("actorflow");
}

} // namespace bench
