// expect: sliding\(d, step\): an item is in several windows, so the item type must be copyable
// A sliding window copies each item into every window it falls in; a
// std::unique_ptr cannot be copied.
#include <chrono>
#include <memory>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  using namespace std::chrono_literals;
  auto res = actorflow::iota(0, 10)
               .then([](int x) { return std::make_unique<int>(x); })
               .sliding(100ms, 50ms)
               .collect()
               .run(sys);
  (void)res;
}
