// expect: then\(f\): f returns an awaitable that is not actorflow::task<U>
// A stage function that returns some awaitable (here the one of
// actorflow::ask) instead of being a coroutine returning task<U>: the stage
// would send the awaitable itself downstream.
#include <chrono>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys, caf::actor pricer) {
  auto res = actorflow::iota(0, 10)
               .then([pricer](int x) {
                 return actorflow::ask<int>(pricer, std::chrono::seconds(1), x);
               })
               .collect()
               .run(sys);
  (void)res;
}
