// Seeing the bottleneck: per-stage statistics of a stream pipeline.
//
//   iota(0, N) -> then(light) -> parallel_then(2, medium) -> for_each(heavy)
//
// The sink does ~20 us of CPU work per item, the parallel stage ~10 us on
// each of two workers and the first `then` almost nothing, so the sink limits
// the throughput: the stages before it fill their channels and then stall on
// backpressure. The program prints the statistics as a table, names the
// bottleneck, and prints the pipeline as a Graphviz digraph with the figures
// on its nodes and edges (render it with `dot -Tsvg`).
//
// The statistics are live: the program reads them once while the pipeline
// runs (a line "while running: ...") and again after it ended.
//
// Usage: stats_stream [N] [--dot-only] [CAF options]

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"

namespace {

/// Burns about `d` of CPU time (stands in for real work).
uint64_t work(uint64_t x, std::chrono::microseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until)
    x = x * 6364136223846793005u + 1442695040888963407u;
  return x;
}

} // namespace

int main(int argc, char** argv) {
  int n = 5000;
  bool dot_only = false;
  // Our own arguments first; the rest goes to CAF.
  int i = 1;
  for (; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dot-only") == 0)
      dot_only = true;
    else if (argv[i][0] != '-')
      n = std::atoi(argv[i]);
    else
      break;
  }
  caf::actor_system_config cfg;
  if (auto rc = example::configure(cfg, argc - i + 1, argv + i - 1,
                                   "stats_stream"))
    return *rc;
  caf::actor_system sys{cfg};
  using namespace std::chrono_literals;
  uint64_t checksum = 0;
  auto run = actorflow::iota<uint64_t>(0, static_cast<uint64_t>(n))
               .then([](uint64_t x) { return x * 3; })
               .parallel_then(2, [](uint64_t x) { return work(x, 10us); })
               .for_each([&checksum](uint64_t x) { checksum ^= work(x, 20us); })
               .start(sys);
  // A live reading: the sink has taken some items, the run goes on.
  while (!run.done()) {
    auto st = run.stats();
    auto sink = st.find("sink#4");
    if (sink != nullptr && sink->items_in > 100) {
      if (!dot_only)
        std::cout << "while running: sink#4 took " << sink->items_in
                  << " items so far, state " << to_string(sink->state)
                  << "\n\n";
      break;
    }
    std::this_thread::yield();
  }
  if (auto res = run.wait(); !res) {
    std::cerr << "error: " << actorflow::to_string_any(res.error()) << '\n';
    return EXIT_FAILURE;
  }
  auto st = run.stats();
  if (!dot_only) {
    std::cout << actorflow::to_string(st) << '\n';
    if (auto b = st.bottleneck())
      std::cout << "bottleneck: " << b->name << " (busy "
                << static_cast<int>(b->busy_share() * 100) << "% of its life)"
                << "\n\n";
  }
  std::cout << st.to_dot();
  return checksum == 42 ? EXIT_FAILURE : EXIT_SUCCESS; // keep the work alive
}
