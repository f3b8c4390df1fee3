// The stage plugin of the distributed-pipeline tests (see test_stages.hpp).

#include "peers/test_stages.hpp"

extern "C" __attribute__((visibility("default"))) void actorflow_register(
  actorflow::stage_registry& reg) {
  test_stages::register_stages(reg);
}
