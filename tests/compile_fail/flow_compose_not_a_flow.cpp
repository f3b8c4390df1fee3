// expect: compose\(f\): f must return the flow it built on
// A piece that forgets to return the flow it built would drop its stages.
#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .compose([](actorflow::flow<int> in) {
                 auto more = std::move(in).then([](int x) { return x + 1; });
                 (void)more;
               })
               .collect()
               .run(sys);
  (void)res;
}
