// distributed_grow: a distributed stage that grows while it runs. In one
// terminal:
//
//   distributed_grow --items=30000
//
// starts a node process of this program (one worker), opens a join point
// on 127.0.0.1, and streams the items through the stage "grow.slow_square"
// (each item waits 2 ms on its node), printing every second how many items
// came out and at what rate. In a second terminal, while it runs:
//
//   distributed_grow --node --join=127.0.0.1:PORT --workers=4
//
// (the driver prints that line with its PORT) starts a node that joins the
// running stage with 4 workers, and the rate in the first terminal steps
// up. At the end the driver checks that every square came out once and in
// order, and kills the node it started (the joined ones are yours).
//
// --self-join-after=N makes the driver start the second node itself once N
// items came out (what its ctest does).
// Exit codes: 0 success, 1 runtime failure, 2 bad command line.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/prctl.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"
#include "node_process.hpp"

namespace {

constexpr const char* stage = "grow.slow_square";

std::shared_ptr<actorflow::stage_registry> stages() {
  auto reg = std::make_shared<actorflow::stage_registry>();
  reg->add_item_type<int32_t>("int32");
  reg->add_item_type<int64_t>("int64");
  reg->register_stage<int32_t, int64_t>(stage, [](int32_t x) {
    std::this_thread::sleep_for(std::chrono::milliseconds{2}); // a slow call
    return int64_t{x} * x;
  });
  return reg;
}

struct config : caf::actor_system_config {
  bool node = false;
  std::string join;
  size_t workers = 1;
  int32_t items = 30000;
  uint16_t join_port = 0;
  int32_t self_join_after = 0;

  config() {
    opt_group{custom_options_, "global"}
      .add(node, "node", "run as a node (serve the stage)")
      .add(join, "join", "node: host:port of the driver's join point")
      .add(workers, "workers", "node: how many workers join")
      .add(items, "items", "driver: how many items")
      .add(join_port, "join-port", "driver: port of its join point (0: free)")
      .add(self_join_after, "self-join-after",
           "driver: start a joining node itself after this many items");
  }
};

/// A node on 127.0.0.1: serves the stage, joins the driver if told to, and
/// runs until killed.
int run_node(caf::actor_system& sys, const config& cfg,
             std::shared_ptr<actorflow::stage_registry> reg) {
  auto port = actorflow::serve_node(sys, reg);
  if (!port) {
    std::cerr << "distributed_grow: " << actorflow::to_string_any(port.error())
              << '\n';
    std::_Exit(EXIT_FAILURE);
  }
  std::cout << "PORT " << *port << std::endl;
  if (!cfg.join.empty()) {
    auto self = "127.0.0.1:" + std::to_string(*port);
    if (auto err = actorflow::join_stage(sys, cfg.join, stage, self,
                                         cfg.workers)) {
      std::cerr << "distributed_grow: " << actorflow::to_string_any(err)
                << '\n';
      std::_Exit(EXIT_FAILURE);
    }
    std::cerr << "distributed_grow: joined with " << cfg.workers
              << " workers\n";
  }
  for (;;)
    ::pause(); // until killed
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  auto reg = stages();
  reg->apply(cfg);
  if (auto rc = example::configure(cfg, argc, argv, "distributed_grow"))
    return *rc;
  if (cfg.items <= 0 || cfg.workers == 0) {
    std::cerr << "distributed_grow: --items and --workers must be positive\n";
    return 2;
  }
  actorflow::init_distribution(cfg);
  if (cfg.node) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL); // it dies with whoever started it
    caf::actor_system sys{cfg};
    return run_node(sys, cfg, reg);
  }
  caf::actor_system sys{cfg};
  auto first = example::start_self({"--node"});
  if (first.first < 0) {
    std::cerr << "distributed_grow: the node did not start\n";
    return EXIT_FAILURE;
  }
  actorflow::stage_control grow;
  auto joins = actorflow::join_point::open(sys, {{stage, grow}}, cfg.join_port);
  if (!joins) {
    std::cerr << "distributed_grow: " << actorflow::to_string_any(joins.error())
              << '\n';
    example::stop(first.first);
    return EXIT_FAILURE;
  }
  auto point = "127.0.0.1:" + std::to_string(joins->port());
  std::cout << "join point " << point << "; add workers with\n"
            << "  distributed_grow --node --join=" << point << " --workers=4\n";
  actorflow::remote_options opts;
  opts.control = grow;
  opts.window = 64 * 16; // fixed at start: room for up to 16 workers
  auto count = std::make_shared<std::atomic<int32_t>>(0);
  auto in_order = std::make_shared<std::atomic<bool>>(true);
  auto run = actorflow::iota(int32_t{0}, cfg.items)
               .compose(actorflow::remote_parallel_then<int64_t>(
                 {{first.second, 1}}, stage, opts))
               .for_each([count, in_order](int64_t y) {
                 auto x = count->load(std::memory_order_relaxed);
                 if (y != int64_t{x} * x)
                   in_order->store(false);
                 count->store(x + 1, std::memory_order_relaxed);
               })
               .start(sys);
  pid_t second = -1;
  auto t0 = std::chrono::steady_clock::now();
  auto next_report = t0 + std::chrono::seconds{1};
  int32_t last = 0;
  while (!run.done()) {
    // Progress every second; a joining node may come at any time.
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    auto now = count->load();
    if (cfg.self_join_after > 0 && second < 0 && now >= cfg.self_join_after) {
      second = example::start_self({"--node", "--join=" + point, "--workers=4"})
                 .first;
      if (second < 0)
        std::cerr << "distributed_grow: the second node did not start\n";
    }
    if (std::chrono::steady_clock::now() >= next_report) {
      auto secs
        = std::chrono::duration_cast<std::chrono::seconds>(next_report - t0);
      std::cout << secs.count() << " s: " << now << " items, " << (now - last)
                << " in the last second, " << 1 + grow.joined() << " workers"
                << std::endl;
      last = now;
      next_report += std::chrono::seconds{1};
    }
  }
  auto res = run.wait();
  example::stop(first.first);
  example::stop(second);
  if (!res) {
    std::cerr << "distributed_grow: " << actorflow::to_string_any(res.error())
              << '\n';
    return EXIT_FAILURE;
  }
  if (!in_order->load() || count->load() != cfg.items) {
    std::cerr << "distributed_grow: " << count->load()
              << " items, in order: " << (in_order->load() ? "yes" : "no")
              << '\n';
    return EXIT_FAILURE;
  }
  std::cout << "all " << cfg.items << " squares once and in order, "
            << grow.joined() << " workers joined" << std::endl;
  return EXIT_SUCCESS;
}
