// expect: compose\(f\): f must be callable with a flow<T>
// The piece takes a flow of another item type than the stream's.
#include <string>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .compose([](actorflow::flow<std::string> in) {
                 return std::move(in).then(
                   [](const std::string& s) { return s.size(); });
               })
               .collect()
               .run(sys);
  (void)res;
}
