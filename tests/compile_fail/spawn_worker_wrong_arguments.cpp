// expect: spawn_worker: the body must be callable with the given arguments
// The arguments passed to spawn_worker must match the body's parameters.
#include <caf/all.hpp>

#include "actorflow/all.hpp"

actorflow::task<> body(actorflow::receiver<int> rx) {
  while (auto x = co_await rx.recv())
    (void)x;
}

void misuse(caf::actor_system& sys, actorflow::receiver<std::string> rx) {
  actorflow::spawn_worker(sys, body, std::move(rx));
}
