// expect: a coroutine f must return task<Out>
// A coroutine stage function whose task yields another type than Out.
#include <cstdint>

#include "actorflow/remote.hpp"

void misuse(actorflow::stage_registry& reg) {
  reg.register_stage<int32_t, int64_t>(
    "half", [](int32_t x) -> actorflow::task<int32_t> { co_return x / 2; });
}
