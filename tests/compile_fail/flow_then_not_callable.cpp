// expect: then\(f\): f must be callable with the stream's item type T
// then(f) needs an f that takes the stream's item type: here the items are
// ints and f wants a std::string.
#include <string>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .then([](const std::string& s) { return s.size(); })
               .collect()
               .run(sys);
  (void)res;
}
