// expect: tee\(branch\): the item type must be copyable
// Every branch gets a copy of every item.
#include <memory>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res = actorflow::iota(0, 10)
               .then([](int x) { return std::make_unique<int>(x); })
               .tee([](actorflow::flow<std::unique_ptr<int>> all) {
                 return std::move(all).for_each([](std::unique_ptr<int>) {});
               })
               .for_each([](std::unique_ptr<int>) {})
               .run(sys);
  (void)res;
}
