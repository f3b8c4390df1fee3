// Stages of the distributed-pipeline tests: compiled into the test driver
// and, as the plugin test_stages (test_stages.cpp), loaded by test_node.

#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include <caf/all.hpp>

#include "actorflow/ask.hpp"
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

/// How many calls of "gated_square" a worker runs at once.
constexpr size_t gate_width = 4;

struct gate_state {
  std::vector<std::pair<int32_t, caf::typed_response_promise<int64_t>>> held;
};

/// Squares, but answers only once `gate_width` requests wait, and then all
/// of them (the newest first): a stage that asks it passes only if it has
/// that many calls in flight. An ask that waits longer than 3 s fails, so a
/// stage without them fails with worker_failed instead of hanging.
inline caf::behavior gate(caf::stateful_actor<gate_state>* self) {
  return {
    [self](int32_t x) {
      auto rp = self->make_response_promise<int64_t>();
      auto& held = self->state.held;
      held.emplace_back(x, rp);
      if (held.size() == gate_width) {
        for (auto i = held.rbegin(); i != held.rend(); ++i)
          i->second.deliver(int64_t{i->first} * i->first);
        held.clear();
      }
      return rp;
    },
  };
}

/// Answers `x` with `tagged(x)` 2 ms later: what "tagged_square_async" waits
/// for, so that its calls are in flight while a node drains.
struct delayer_state {
  std::map<uint64_t, std::pair<int32_t, caf::typed_response_promise<int64_t>>>
    held;
  uint64_t next = 0;
};

/// The result of "tagged_square": the pid of the process that made it in
/// the high 32 bits, x * x (for 0 <= x < 65536) in the low ones.
inline int64_t tagged(int32_t x) {
  return (int64_t{::getpid()} << 32) | (int64_t{x} * x);
}

/// If ACTORFLOW_TEST_CALLS names a directory, appends `x` to the file named
/// after this process there: a test counts how often each item ran, over
/// all processes.
inline void note_call(int32_t x) {
  static const char* dir = std::getenv("ACTORFLOW_TEST_CALLS");
  if (dir == nullptr)
    return;
  static std::mutex mtx;
  std::lock_guard guard{mtx};
  auto path = std::string{dir} + "/" + std::to_string(::getpid());
  if (auto f = std::fopen(path.c_str(), "a")) {
    std::fprintf(f, "%d\n", static_cast<int>(x));
    std::fclose(f);
  }
}

inline caf::behavior delayer(caf::stateful_actor<delayer_state>* self) {
  return {
    [self](int32_t x) {
      auto rp = self->make_response_promise<int64_t>();
      auto id = self->state.next++;
      self->state.held.emplace(id, std::make_pair(x, rp));
      self->delayed_send(self, std::chrono::milliseconds{2}, id);
      return rp;
    },
    [self](uint64_t id) {
      auto i = self->state.held.find(id);
      if (i == self->state.held.end())
        return;
      i->second.second.deliver(tagged(i->second.first));
      self->state.held.erase(i);
    },
  };
}

inline void spin_for(std::chrono::nanoseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    // spin
  }
}

/// Registers the coroutine stage `name`, which asks an actor living on the
/// node (`fun`, spawned when the node starts, stopped when it ends) for the
/// result of each item, `width` calls at once per worker, each call noted
/// (see note_call).
template <class Fun>
void register_asking_stage(actorflow::stage_registry& reg, std::string name,
                           Fun fun, size_t width) {
  auto hdl = std::make_shared<caf::actor>();
  reg.on_start([hdl, fun](caf::actor_system& sys) { *hdl = sys.spawn(fun); });
  reg.on_stop(
    [hdl] { caf::anon_send_exit(*hdl, caf::exit_reason::user_shutdown); });
  reg.register_stage<int32_t, int64_t>(
    std::move(name),
    [hdl](int32_t x) -> actorflow::task<int64_t> {
      note_call(x);
      auto asking = actorflow::ask<int64_t>(*hdl, std::chrono::seconds{3}, x);
      auto y = co_await asking;
      if (!y)
        throw actorflow::error_exception{y.error()};
      co_return *y;
    },
    width);
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
  // 2 ms per item, its result tagged with the process that made it (see
  // tagged), each call noted (see note_call).
  reg.register_stage<int32_t, int64_t>("tagged_square", [](int32_t x) {
    note_call(x);
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
    return tagged(x);
  });
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
  // Coroutine stages that ask an actor living on the node: one that
  // answers only gate_width requests at once, and one that answers each
  // after 2 ms (like tagged_square, two calls at once per worker).
  register_asking_stage(reg, "gated_square", gate, gate_width);
  register_asking_stage(reg, "tagged_square_async", delayer, 2);
  reg.register_stage<blob, int64_t>("blob_value",
                                    [](blob x) { return int64_t{x.a}; });
}

} // namespace test_stages
