// expect: the body must be a coroutine returning actorflow::task<>
// A cooperative worker's body must be a coroutine returning task<>; a plain
// function is a blocking worker and must be spawned as one.
#include <caf/all.hpp>

#include "actorflow/all.hpp"

void body(actorflow::receiver<int>) {}

void misuse(caf::actor_system& sys, actorflow::receiver<int> rx) {
  actorflow::spawn_worker(sys, body, std::move(rx));
}
