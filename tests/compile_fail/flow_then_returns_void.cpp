// expect: then\(f\): f must return a value \(use for_each or inspect
// then(f) maps items: an f that returns nothing has no place in the stream.
#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res
    = actorflow::iota(0, 10).then([](int x) { (void)x; }).collect().run(sys);
  (void)res;
}
