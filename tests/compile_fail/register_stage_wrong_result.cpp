// expect: f must return an Out \(or something convertible to it\), or task<Out>
// A plain stage function whose result does not convert to Out.
#include <cstdint>
#include <string>

#include "actorflow/remote.hpp"

void misuse(actorflow::stage_registry& reg) {
  reg.register_stage<int32_t, int64_t>("name", [](int32_t x) {
    return std::to_string(x);
  });
}
