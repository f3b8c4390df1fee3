// Pipelining in worker style.
//
// Three coroutine workers are chained by bounded channels:
//
//   source (7, N times) -> first_stage (+1) -> second_stage (*2) -> main
//
// Every channel has capacity 2, so a fast stage can never run more than two
// items ahead of the stage behind it (backpressure). The main thread consumes
// the last channel with blocking_recv and prints each value: N lines of "16".
//
// Usage: pipeline_worker [N] [CAF options, e.g. --scheduler.max-threads=2]

#include <cstdlib>
#include <iostream>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"

using actorflow::receiver;
using actorflow::sender;
using actorflow::task;

namespace {

// The data source: sends `value` n times, then returns. Returning destroys
// `tx`, which closes the channel: first_stage then sees end-of-stream.
task<> source(int value, int n, sender<int> tx) {
  for (int i = 0; i < n; ++i)
    if (!co_await tx.send(value))
      co_return; // every receiver is gone: nobody wants more
}

// Adds one to each input. recv() yields an empty optional at end-of-stream;
// send() fails once the next stage is gone. Either way the stage ends.
task<> first_stage(receiver<int> prev_rx, sender<int> next_tx) {
  while (auto input = co_await prev_rx.recv()) {
    auto output = *input + 1;
    if (!co_await next_tx.send(output))
      break;
  }
}

// Doubles each input.
task<> second_stage(receiver<int> prev_rx, sender<int> next_tx) {
  while (auto input = co_await prev_rx.recv()) {
    auto output = *input * 2;
    if (!co_await next_tx.send(output))
      break;
  }
}

} // namespace

int main(int argc, char** argv) {
  // Our own argument (N) comes first; everything else goes to CAF.
  int n = 10;
  if (!example::take_count(argc, argv, n, "pipeline_worker"))
    return 2;
  caf::actor_system_config cfg;
  if (auto rc = example::configure(cfg, argc, argv, "pipeline_worker"))
    return *rc;
  caf::actor_system sys{cfg};
  // Three channels of capacity 2 ...
  auto ch0 = actorflow::channel<int>(sys, 2);
  auto ch1 = actorflow::channel<int>(sys, 2);
  auto ch2 = actorflow::channel<int>(sys, 2);
  if (!ch0 || !ch1 || !ch2) {
    std::cerr << "error: cannot create channels\n";
    return EXIT_FAILURE;
  }
  auto [tx0, rx0] = std::move(*ch0);
  auto [tx1, rx1] = std::move(*ch1);
  auto [tx2, rx2] = std::move(*ch2);
  // ... and three workers. Each handle moves into the worker that uses it,
  // so that the channel closes as soon as that worker ends.
  using actorflow::worker_options;
  auto w0 = actorflow::spawn_worker(sys, worker_options{.name = "source"},
                                    source, 7, n, std::move(tx0));
  auto w1 = actorflow::spawn_worker(sys, worker_options{.name = "first_stage"},
                                    first_stage, std::move(rx0),
                                    std::move(tx1));
  auto w2 = actorflow::spawn_worker(sys, worker_options{.name = "second_stage"},
                                    second_stage, std::move(rx1),
                                    std::move(tx2));
  // The last stage is the main thread itself: a plain thread blocks in
  // blocking_recv until an item or end-of-stream arrives.
  while (auto final_value = rx2.blocking_recv())
    std::cout << *final_value << '\n';
  // All workers are done (or about to be); join them and report failures.
  int rc = EXIT_SUCCESS;
  for (auto* w : {&w0, &w1, &w2}) {
    if (auto err = w->join()) {
      std::cerr << "error: " << actorflow::to_string_any(err) << '\n';
      rc = EXIT_FAILURE;
    }
  }
  return rc;
}
