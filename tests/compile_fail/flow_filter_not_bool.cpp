// expect: filter\(pred\): pred must be callable with const T& and return something convertible to bool
// A predicate must answer yes or no; a std::string does not convert to bool.
#include <string>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .filter([](int x) { return std::to_string(x); })
               .collect()
               .run(sys);
  (void)res;
}
