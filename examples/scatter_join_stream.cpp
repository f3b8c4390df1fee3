// Scatter-join in stream style.
//
// The same computation as scatter_join_worker.cpp, written with the stream
// DSL:
//
//                      +-> worker 1 (+1) -+
//   iota(0, 100) ->  scatter              gather -> for_each(print)
//                      +-> worker 2 (+1) -+
//
// parallel_then(2, f) spawns a scatter, two workers that share the work on
// demand, and a gather that restores the input order. So, unlike the
// worker-style version, nothing needs sorting: the output is 1..100 in
// order, whichever worker finished which item first.
//
// Usage: scatter_join_stream [CAF options]

#include <cstdlib>
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"

int main(int argc, char** argv) {
  caf::actor_system_config cfg;
  if (auto rc = example::configure(cfg, argc, argv, "scatter_join_stream"))
    return *rc;
  caf::actor_system sys{cfg};
  auto res = actorflow::iota(0, 100)
               .parallel_then(2, [](int x) { return x + 1; })
               .for_each([](int x) { std::cout << x << '\n'; })
               .run(sys);
  if (!res) {
    std::cerr << "error: " << actorflow::to_string_any(res.error()) << '\n';
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
