// expect: fold\(init, f\): f must be callable as f\(Acc&, T\) and return the new Acc
// fold's f takes the accumulator first and the item second; here they are
// swapped (the item, an int, cannot bind to a std::string&).
#include <string>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

void misuse(caf::actor_system& sys) {
  auto res
    = actorflow::iota(0, 10)
        .fold(std::string{},
              [](int x, std::string& acc) { return acc + std::to_string(x); })
        .run(sys);
  (void)res;
}
