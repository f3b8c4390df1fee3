// expect: parallel_then\(n, f\): f must return a value
// parallel_then maps items: an f that returns nothing belongs in
// parallel_for_each.
#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res
    = actorflow::iota(0, 10).parallel_then(2, [](int) {}).collect().run(sys);
  (void)res;
}
