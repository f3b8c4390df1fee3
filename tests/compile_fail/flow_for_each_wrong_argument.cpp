// expect: for_each\(f\): f must be callable with the stream's item type T
// The handler of for_each must take the stream's items (ints here).
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .for_each([](const std::vector<int>& xs) { (void)xs; })
               .run(sys);
  (void)res;
}
