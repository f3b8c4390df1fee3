// expect: key_by\(n, key\): the key type must be hashable with std::hash
// The key decides the worker (and so the windows' owner) through std::hash;
// a struct without a std::hash specialization cannot be a key.
#include <chrono>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

struct account {
  int id = 0;
  friend bool operator==(const account&, const account&) = default;
};

void misuse(caf::actor_system& sys) {
  using namespace std::chrono_literals;
  auto res = actorflow::iota(0, 10)
               .key_by(2, [](int x) { return account{x}; })
               .tumbling(100ms)
               .collect()
               .run(sys);
  (void)res;
}
