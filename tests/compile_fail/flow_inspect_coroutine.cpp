// expect: inspect\(f\): f must be synchronous
// inspect runs f on the side of a stage; a coroutine would never be awaited
// there (then, parallel_then and route_by_key take coroutines).
#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .inspect([](int) -> actorflow::task<int> { co_return 1; })
               .collect()
               .run(sys);
  (void)res;
}
