// Pipelining in stream style.
//
// The same pipeline as pipeline_worker.cpp, written with the stream DSL:
//
//   repeat(7) -> take(N) -> then(+1) -> then(*2) -> for_each(print)
//
// Every arrow is a bounded channel and every box a worker actor; the DSL
// spawns and connects them, and run() blocks until the last one ended.
// repeat(7) is endless: take(N) ends the stream after N items, and the
// source stops because nobody takes its items any more. The output is N
// lines of "16".
//
// Usage: pipeline_stream [N] [CAF options, e.g. --scheduler.max-threads=2]

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"

int main(int argc, char** argv) {
  // Our own argument (N) comes first; everything else goes to CAF.
  int n = 10;
  if (argc > 1 && argv[1][0] != '-') {
    std::string_view arg = argv[1];
    auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), n);
    if (ec != std::errc{} || end != arg.data() + arg.size() || n < 0) {
      std::cerr << "usage: pipeline_stream [N] [CAF options]\n";
      return 2;
    }
    argv[1] = argv[0]; // drop N from what CAF gets to see
    --argc;
    ++argv;
  }
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "error: " << cfg.render(err) << '\n';
    return EXIT_FAILURE;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  caf::actor_system sys{cfg};
  // Capacity 2 on every link, as in pipeline_worker: a fast stage never
  // runs more than two items ahead of the one behind it.
  auto res = actorflow::repeat(7)
               .take(static_cast<size_t>(n))
               .then([](int x) { return x + 1; })
               .then([](int x) { return x * 2; })
               .for_each([](int x) { std::cout << x << '\n'; })
               .run(sys, actorflow::run_options{.capacity = 2});
  if (!res) {
    std::cerr << "error: " << actorflow::to_string_any(res.error()) << '\n';
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
