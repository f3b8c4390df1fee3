// Scatter-join in worker style.
//
//                     +-> par_worker "par1" (+1) -+
//   source (0..99) ---|                           |---> gather
//                     +-> par_worker "par2" (+1) -+
//
// The source sends into one channel (capacity 2). Both parallel workers hold
// a copy of its receiver: copies share the items, each item reaches exactly
// one of them, whichever is free. Both hold a copy of the sender of one
// output channel, which the gather worker drains. Since the two workers race,
// the order of the gathered items is not deterministic: we sort before
// printing.
//
// Shutdown works in both directions, without any extra signalling:
//
// - Downstream (the normal case): the source returns, its sender dies, the
//   input channel ends; each parallel worker sees end-of-stream from recv()
//   and returns, dropping its output sender; once the *last* sender copy is
//   gone the output channel ends and the gather worker's loop stops.
// - Upstream (`--take K`): the gather worker stops after K items and drops
//   its receiver. With no receiver left, send() in the parallel workers fails
//   (handing the item back), so they return and drop their input receivers;
//   now the source's send() fails too, and it returns. Every worker ends
//   without error, although the source never got to send all 100 items.
//
// Usage: scatter_join_worker [--take K] [CAF options]

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"

using actorflow::receiver;
using actorflow::sender;
using actorflow::task;

namespace {

// Data source: 0..99.
task<> source(sender<int> tx) {
  for (int n = 0; n < 100; ++n)
    if (!co_await tx.send(n))
      co_return; // upstream shutdown: nobody is listening any more
}

// A parallel worker; we spawn it twice on the same pair of channels.
task<> par_worker(receiver<int> in_rx, sender<int> out_tx) {
  while (auto n = co_await in_rx.recv()) {
    auto output = *n + 1;
    if (!co_await out_tx.send(output))
      break; // upstream shutdown: the gather is gone
  }
}

} // namespace

int main(int argc, char** argv) {
  // Our own option first; everything else goes to CAF.
  size_t take = SIZE_MAX;
  if (argc > 2 && std::string_view{argv[1]} == "--take") {
    take = std::strtoul(argv[2], nullptr, 10);
    argv[2] = argv[0]; // drop --take K from what CAF gets to see
    argc -= 2;
    argv += 2;
  }
  caf::actor_system_config cfg;
  if (auto rc = example::configure(cfg, argc, argv, "scatter_join_worker"))
    return *rc;
  caf::actor_system sys{cfg};
  auto in_ch = actorflow::channel<int>(sys, 2);
  auto out_ch = actorflow::channel<int>(sys, 2);
  if (!in_ch || !out_ch) {
    std::cerr << "error: cannot create channels\n";
    return EXIT_FAILURE;
  }
  auto [in_tx, in_rx] = std::move(*in_ch);
  auto [out_tx, out_rx] = std::move(*out_ch);
  using actorflow::spawn_worker;
  using actorflow::worker_options;
  // data source
  auto source_w = spawn_worker(sys, worker_options{.name = "source"}, source,
                               std::move(in_tx));
  // first parallel worker: gets *copies* of in_rx and out_tx
  auto par1 = spawn_worker(sys, worker_options{.name = "par1"}, par_worker,
                           in_rx, out_tx);
  // second parallel worker: gets the originals. Moving them matters: a sender
  // left behind in main would keep the output channel open forever, and the
  // gather below would never see end-of-stream.
  auto par2 = spawn_worker(sys, worker_options{.name = "par2"}, par_worker,
                           std::move(in_rx), std::move(out_tx));
  // gather outputs from both workers. A lambda works as a worker body; the
  // worker keeps it alive, and `gathered` outlives the worker (we join it
  // below before reading `gathered`).
  std::vector<int> gathered;
  auto gather = spawn_worker(
    sys, worker_options{.name = "gather"},
    [&gathered, take](receiver<int> rx) -> task<> {
      while (gathered.size() < take) {
        auto n = co_await rx.recv();
        if (!n)
          break; // downstream shutdown: every sender is gone
        gathered.push_back(*n);
      }
      // Returning drops rx; if we stopped early, that is what tells the
      // workers upstream to stop.
    },
    std::move(out_rx));
  // Join in any order: join() just waits for the worker's end.
  int rc = EXIT_SUCCESS;
  for (auto* w : {&source_w, &par1, &par2, &gather}) {
    if (auto err = w->join()) {
      std::cerr << "error: " << actorflow::to_string_any(err) << '\n';
      rc = EXIT_FAILURE;
    }
  }
  if (rc != EXIT_SUCCESS)
    return rc;
  if (take != SIZE_MAX) {
    // The items themselves depend on timing; their number does not.
    std::cout << "took " << gathered.size() << " items, then stopped; "
              << "all 4 workers ended without error\n";
    return rc;
  }
  std::sort(gathered.begin(), gathered.end());
  for (auto n : gathered)
    std::cout << n << '\n';
  auto sum = std::accumulate(gathered.begin(), gathered.end(), int64_t{0});
  std::cout << "total: " << gathered.size() << " items, sum " << sum << '\n';
  return rc;
}
