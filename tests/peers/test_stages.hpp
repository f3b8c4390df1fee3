// Stages of the distributed-pipeline tests: compiled into the test driver
// and, as the plugin test_stages (test_stages.cpp), loaded by test_node.

#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "actorflow/remote.hpp"

namespace test_stages {

/// Registered as "test::blob" on nodes; the driver-side `blob_v2` has the
/// same name and another layout (a "different build").
struct blob {
  int32_t a = 0;
};

struct blob_v2 {
  int64_t a = 0;
};

inline void spin_for(std::chrono::nanoseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    // spin
  }
}

inline void register_stages(actorflow::stage_registry& reg) {
  reg.add_item_type<int32_t>("int32");
  reg.add_item_type<int64_t>("int64");
  reg.add_item_type<blob>("test::blob");
  reg.register_stage<int32_t, int64_t>("square", [](int32_t x) {
    return int64_t{x} * x;
  });
  reg.register_stage<int32_t, int64_t>("slow_square", [](int32_t x) {
    spin_for(std::chrono::microseconds{20});
    return int64_t{x} * x;
  });
  // 10 ms per item: a slow service, for the cancellation bound.
  reg.register_stage<int32_t, int64_t>("sleepy_square", [](int32_t x) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
    return int64_t{x} * x;
  });
  // Fast, with a 20 ms stall every 2^16 items of a thread: a consumer that
  // stops taking items again and again, for the bounded-memory probes.
  reg.register_stage<int32_t, int64_t>("stalling_square", [](int32_t x) {
    thread_local uint32_t calls = 0;
    if (++calls % (uint32_t{1} << 16) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    return int64_t{x} * x;
  });
  reg.register_stage<int32_t, int64_t>("throws_on_7", [](int32_t x) {
    if (x == 7)
      throw std::runtime_error("seven");
    return int64_t{x};
  });
  reg.register_stage<blob, int64_t>("blob_value",
                                    [](blob x) { return int64_t{x.a}; });
}

} // namespace test_stages
