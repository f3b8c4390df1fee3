// expect: filter\(pred\): pred must be callable with const T& \(T: the stream's item type\)
// The predicate must take the stream's items (ints here), not strings.
#include <string>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .filter([](const std::string& s) { return s.empty(); })
               .collect()
               .run(sys);
  (void)res;
}
