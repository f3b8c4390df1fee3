// expect: parallel_then\(n, f\): f must be callable with the stream's item type T
// parallel_then's second argument is the function the workers apply; an int
// is no function.
#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10).parallel_then(2, 42).collect().run(sys);
  (void)res;
}
