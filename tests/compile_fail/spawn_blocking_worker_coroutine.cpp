// expect: the body must be a plain function returning void
// A coroutine cannot run as a blocking worker: it would never be resumed.
#include <caf/all.hpp>

#include "actorflow/all.hpp"

actorflow::task<> body(actorflow::receiver<int> rx) {
  while (auto x = co_await rx.recv())
    (void)x;
}

void misuse(caf::actor_system& sys, actorflow::receiver<int> rx) {
  actorflow::spawn_blocking_worker(sys, body, std::move(rx));
}
