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

#include <cstdlib>
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"

int main(int argc, char** argv) {
  // Our own argument (N) comes first; everything else goes to CAF.
  int n = 10;
  if (!example::take_count(argc, argv, n, "pipeline_stream"))
    return 2;
  caf::actor_system_config cfg;
  if (auto rc = example::configure(cfg, argc, argv, "pipeline_stream"))
    return *rc;
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
