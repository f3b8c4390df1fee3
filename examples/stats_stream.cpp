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
// With --metrics=PORT it also serves them as Prometheus metrics at
// http://127.0.0.1:PORT/metrics while it runs (PORT 0: a free port) and
// prints the sink's final samples; with --view=PORT it serves a live page of
// the pipeline at http://127.0.0.1:PORT/view/stats_stream. With --hold it
// keeps serving after the run until stdin ends (press Enter); a large N
// keeps the pipeline running longer (5000 items take about 0.1 s).
//
// Usage: stats_stream [N] [--dot-only] [--metrics=PORT] [--view=PORT]
//                     [--hold] [CAF options]

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"
#if ACTORFLOW_EXAMPLE_METRICS
#  include <optional>

#  include "actorflow/metrics_exporter.hpp"
#  include "actorflow/pipeline_view.hpp"
#endif

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
  std::string metrics; // the port, if any
  std::string view;    // the port, if any
  bool hold = false;
  // Our own arguments first; the rest goes to CAF.
  int i = 1;
  for (; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dot-only") == 0)
      dot_only = true;
    else if (std::strncmp(argv[i], "--metrics=", 10) == 0)
      metrics = argv[i] + 10;
    else if (std::strncmp(argv[i], "--view=", 7) == 0)
      view = argv[i] + 7;
    else if (std::strcmp(argv[i], "--hold") == 0)
      hold = true;
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
#if ACTORFLOW_EXAMPLE_METRICS
  std::optional<actorflow::metrics_exporter> exporter;
  if (!metrics.empty()) {
    auto ex = actorflow::metrics_exporter::serve("127.0.0.1:" + metrics);
    if (!ex) {
      std::cerr << "error: " << actorflow::to_string_any(ex.error()) << '\n';
      return 2;
    }
    exporter.emplace(std::move(*ex));
    exporter->add("stats_stream", run);
    std::cout << "metrics: " << exporter->url() << "\n\n";
  }
  std::optional<actorflow::pipeline_view> page;
  if (!view.empty()) {
    auto pv = actorflow::pipeline_view::serve("127.0.0.1:" + view);
    if (!pv) {
      std::cerr << "error: " << actorflow::to_string_any(pv.error()) << '\n';
      return 2;
    }
    page.emplace(std::move(*pv));
    page->add("stats_stream", run);
    std::cout << "live page: " << page->url("stats_stream") << "\n\n";
  }
#else
  if (!metrics.empty() || !view.empty()) {
    std::cerr << "error: --metrics/--view: built without actorflow::metrics "
                 "(needs prometheus-cpp, Debian: prometheus-cpp-dev)\n";
    return 2;
  }
#endif
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
#if ACTORFLOW_EXAMPLE_METRICS
  if (exporter) {
    // What a scrape says of the sink now that the run is over.
    std::cout << "\nmetrics of sink#4:\n";
    std::istringstream text{exporter->scrape()};
    for (std::string line; std::getline(text, line);)
      if (line.find("stage=\"sink#4\"") != std::string::npos
          && line.find("_bucket") == std::string::npos)
        std::cout << line << '\n';
  }
  if (hold && (exporter || page)) {
    std::cout << "serving until stdin ends (press Enter)" << std::endl;
    std::string ignored;
    std::getline(std::cin, ignored);
  }
#else
  (void)hold;
#endif
  return checksum == 42 ? EXIT_FAILURE : EXIT_SUCCESS; // keep the work alive
}
