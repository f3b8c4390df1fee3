// expect: flat_map\(f\): f must return a range
// flat_map's f returns the elements that replace an item; an int is no
// range (then(f) maps one item to one item).
#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .flat_map([](int x) { return x * 2; })
               .collect()
               .run(sys);
  (void)res;
}
