// A stage plugin of another build (for the join tests): it lacks
// "tagged_square", and its "square" maps int64 to int64.

#include <cstdint>

#include "actorflow/remote.hpp"

extern "C" __attribute__((visibility("default"))) void actorflow_register(
  actorflow::stage_registry& reg) {
  reg.add_item_type<int32_t>("int32");
  reg.add_item_type<int64_t>("int64");
  reg.register_stage<int64_t, int64_t>("square",
                                       [](int64_t x) { return x * x; });
}
