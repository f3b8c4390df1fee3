// expect: route_by_key\(n, key, f\): the key type must be hashable with std::hash
// The key decides the worker through std::hash; a struct without a
// std::hash specialization cannot be a key.
#include <caf/all.hpp>

#include "actorflow/all.hpp"

struct point {
  int x;
  int y;
};

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .route_by_key(
                 2,
                 [](int v) {
                   return point{v, v};
                 },
                 [](int v) { return v; })
               .collect()
               .run(sys);
  (void)res;
}
