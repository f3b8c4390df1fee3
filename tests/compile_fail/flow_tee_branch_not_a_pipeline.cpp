// expect: tee\(branch\): branch must return a pipeline
// A branch must end in a sink; a flow that is not run would do nothing.
#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .tee([](actorflow::flow<int> all) {
                 return std::move(all).then([](int x) { return x + 1; });
               })
               .collect()
               .run(sys);
  (void)res;
}
