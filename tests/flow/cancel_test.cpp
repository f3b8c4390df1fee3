// Cancellation and failure stop a pipeline within one item's work: after
// `cancel()` (or the first failing item) no stage starts another call of a
// user function once it has seen the stop, even with thousands of items
// buffered in front of a slow stage, and what the channels still held is
// dropped and counted as cancelled, not lost. One test case per shape:
// sources, then, parallel_then (ordered and unordered), route_by_key, tee,
// a coroutine stage waiting on an actor, and actors at both ends.
//
// The slow stages sleep: that is their workload (a call to a slow service),
// not a synchronisation. Every wait on the pipeline is bounded.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>

#include "actorflow/ask.hpp"
#include "support/test_support.hpp"

using namespace actorflow_test;
using actorflow::error_code;
namespace utf = boost::unit_test;

namespace {

using clock_type = std::chrono::steady_clock;

/// The slow user function of a test: counts its calls, and the calls that
/// started after the test asked the pipeline to stop.
struct slow_probe {
  explicit slow_probe(std::chrono::milliseconds per_item) : cost(per_item) {
    // nop
  }

  const std::chrono::milliseconds cost;
  std::atomic<int> calls{0};
  std::atomic<int> calls_after{0};
  std::atomic<bool> stopping{false};
  /// Set by a failing call: when the failure happened.
  std::atomic<int64_t> failed_at{0};

  void work() {
    if (stopping.load())
      ++calls_after;
    ++calls;
    std::this_thread::sleep_for(cost);
  }

  /// Records the moment of a failure and throws.
  [[noreturn]] void fail_now() {
    stopping = true;
    failed_at = clock_type::now().time_since_epoch().count();
    throw std::runtime_error("boom");
  }

  /// Works, and fails at the `k`-th call.
  void work_or_fail(int k) {
    if (calls.load() + 1 == k) {
      ++calls;
      std::this_thread::sleep_for(cost);
      fail_now();
    }
    work();
  }

  /// A stage function that works, then passes its item on.
  auto passing() {
    return [this](int64_t x) {
      work();
      return x;
    };
  }

  /// A sink function that works.
  auto sinking() {
    return [this](int64_t) {
      work();
    };
  }

  bool busy() const {
    return calls.load() >= 3;
  }
};

/// What the bound allows: one item's work plus 100 ms.
std::chrono::milliseconds bound(const slow_probe& p) {
  return p.cost + std::chrono::milliseconds{100};
}

/// Starts `p`, lets the slow stage work through a few items, cancels, and
/// checks the bound: `wait()` ends within one item's work + 100 ms with
/// `error_code::cancelled`, at most one call per stage actor starts after
/// `cancel()`, and nothing counts as lost. Returns the run.
template <class R>
actorflow::running<R> check_cancel(caf::actor_system& sys, slow_probe& probe,
                                   actorflow::pipeline<R> p) {
  auto run = std::move(p).start(sys);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return probe.busy(); }, 5000ms),
                        "the slow stage never ran");
  probe.stopping = true;
  auto t0 = clock_type::now();
  run.cancel();
  auto res = run.wait();
  auto took = clock_type::now() - t0;
  BOOST_REQUIRE(!res);
  BOOST_TEST(has_code(res.error(), error_code::cancelled),
             actorflow::to_string_any(res.error()));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took);
  BOOST_TEST_MESSAGE("cancel -> end of wait(): " << ms.count()
                                                 << " ms, calls after cancel: "
                                                 << probe.calls_after.load());
  BOOST_TEST(ms <= bound(probe));
  auto st = run.stats();
  BOOST_TEST(probe.calls_after.load() <= static_cast<int>(st.stages.size()));
  BOOST_TEST(st.lost == 0u);
  for (auto& s : st.stages)
    BOOST_TEST(s.done, s.name);
  return run;
}

/// Runs `p`, whose slow stage fails at its `k`-th call, and checks the
/// same bound from the moment of the failure: the run ends with the
/// failing stage's error.
template <class R>
void check_failure(caf::actor_system& sys, slow_probe& probe,
                   actorflow::pipeline<R> p) {
  auto run = std::move(p).start(sys);
  auto res = run.wait();
  auto end = clock_type::now().time_since_epoch().count();
  BOOST_REQUIRE(!res);
  BOOST_TEST(has_code(res.error(), error_code::worker_failed),
             actorflow::to_string_any(res.error()));
  BOOST_TEST(contains(text(res.error()), "boom"));
  BOOST_REQUIRE(probe.failed_at.load() != 0);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
    clock_type::duration{end - probe.failed_at.load()});
  BOOST_TEST_MESSAGE("failure -> end of wait(): "
                     << ms.count() << " ms, calls after the failure: "
                     << probe.calls_after.load());
  BOOST_TEST(ms <= bound(probe));
  auto st = run.stats();
  BOOST_TEST(probe.calls_after.load() <= static_cast<int>(st.stages.size()));
  BOOST_TEST(st.lost == 0u);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(cancel_bound, system_fixture)

//! Contract: a slow sink behind an endless source stops after its current
//! call; its buffered input is dropped and counted as cancelled.
BOOST_AUTO_TEST_CASE(slow_sink, *utf::label("cancel")) {
  slow_probe probe{2ms};
  auto run = check_cancel(
    sys, probe, actorflow::iota<int64_t>(0).for_each(probe.sinking()));
  // The sink held thousands of items in read-ahead when it stopped; the
  // channel counts them as it drops them, right after the stages ended.
  BOOST_TEST(eventually([&] { return run.stats().cancelled > 100u; }),
             "cancelled: " << run.stats().cancelled);
  BOOST_TEST(run.stats().lost == 0u);
}

//! Contract: a slow `then` stage stops after its current call.
BOOST_AUTO_TEST_CASE(slow_then, *utf::label("cancel")) {
  slow_probe probe{2ms};
  check_cancel(
    sys, probe,
    actorflow::iota<int64_t>(0).then(probe.passing()).for_each([](int64_t) {}));
}

//! Contract: a slow source (generate) stops after its current call.
BOOST_AUTO_TEST_CASE(slow_source, *utf::label("cancel")) {
  slow_probe probe{5ms};
  check_cancel(sys, probe,
               actorflow::generate([&probe]() -> std::optional<int64_t> {
                 probe.work();
                 return int64_t{1};
               }).for_each([](int64_t) {}));
}

//! Contract: the slow sink behind an ordered parallel_then stops after its
//! current call, and so do the workers.
BOOST_AUTO_TEST_CASE(parallel_then_into_slow_sink, *utf::label("cancel")) {
  slow_probe probe{2ms};
  check_cancel(sys, probe,
               actorflow::repeat(int64_t{1})
                 .parallel_then(2, [](int64_t x) { return x + 1; })
                 .for_each(probe.sinking()));
}

//! Contract: slow workers of an ordered parallel_then stop after their
//! current call.
BOOST_AUTO_TEST_CASE(slow_parallel_then, *utf::label("cancel")) {
  slow_probe probe{20ms};
  check_cancel(sys, probe,
               actorflow::iota<int64_t>(0)
                 .parallel_then(2, probe.passing())
                 .for_each([](int64_t) {}));
}

//! Contract: slow workers of an unordered parallel_then stop after their
//! current call.
BOOST_AUTO_TEST_CASE(slow_parallel_then_unordered, *utf::label("cancel")) {
  slow_probe probe{20ms};
  check_cancel(sys, probe,
               actorflow::iota<int64_t>(0)
                 .parallel_then_unordered(2, probe.passing())
                 .for_each([](int64_t) {}));
}

//! Contract: slow workers of route_by_key stop after their current call.
BOOST_AUTO_TEST_CASE(slow_route_by_key, *utf::label("cancel")) {
  slow_probe probe{2ms};
  check_cancel(sys, probe,
               actorflow::iota<int64_t>(0)
                 .route_by_key(
                   2, [](const int64_t& x) { return x % 7; }, probe.passing())
                 .for_each([](int64_t) {}));
}

//! Contract: a slow branch of a tee stops after its current call, and so
//! does the main stream.
BOOST_AUTO_TEST_CASE(slow_tee_branch, *utf::label("cancel")) {
  slow_probe probe{2ms};
  check_cancel(sys, probe,
               actorflow::iota<int64_t>(0)
                 .tee([&probe](actorflow::flow<int64_t> all) {
                   return std::move(all).for_each(probe.sinking());
                 })
                 .for_each([](int64_t) {}));
}

//! Contract: a coroutine stage waiting on a slow actor ends at its
//! suspension: the actor's answer never resumes it.
BOOST_AUTO_TEST_CASE(coroutine_stage_waiting_on_an_actor,
                     *utf::label("cancel")) {
  slow_probe probe{10ms};
  auto service = sys.spawn([&probe]() -> caf::behavior {
    return {
      probe.passing(),
    };
  });
  check_cancel(
    sys, probe,
    actorflow::iota<int64_t>(0)
      .then([service](int64_t x) -> actorflow::task<caf::expected<int64_t>> {
        co_return co_await actorflow::ask<int64_t>(service, 5s, x);
      })
      .for_each([](int64_t) {}));
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
}

//! Contract: a pipeline between an actor source and an actor sink stops
//! within the bound, its slow stage after its current call.
BOOST_AUTO_TEST_CASE(actors_at_both_ends, *utf::label("cancel")) {
  slow_probe probe{2ms};
  auto producer = sys.spawn([]() -> caf::behavior {
    return {
      [](actorflow::demand_atom, uint32_t n) {
        return std::vector<int64_t>(n, 1);
      },
    };
  });
  auto consumer = sys.spawn([]() -> caf::behavior {
    return {
      [](actorflow::batch_atom, std::vector<int64_t>&) {},
    };
  });
  check_cancel(sys, probe,
               actorflow::from_actor<int64_t>(producer)
                 .then(probe.passing())
                 .to_actor(consumer));
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
}

//! Contract: after the first failing item the other stages stop within one
//! item's work: a slow branch with thousands of items buffered does not
//! work through them.
BOOST_AUTO_TEST_CASE(failure_stops_a_slow_branch, *utf::label("cancel")) {
  slow_probe probe{2ms};
  check_failure(sys, probe,
                actorflow::iota<int64_t>(0)
                  .tee([&probe](actorflow::flow<int64_t> all) {
                    return std::move(all).for_each(probe.sinking());
                  })
                  .for_each([&probe](int64_t x) {
                    if (x == 2000)
                      probe.fail_now();
                  }));
}

//! Contract: a failing item of a slow worker of parallel_then stops the
//! other worker after its current call.
BOOST_AUTO_TEST_CASE(failure_in_slow_parallel_then, *utf::label("cancel")) {
  slow_probe probe{20ms};
  check_failure(sys, probe,
                actorflow::iota<int64_t>(0)
                  .parallel_then(2,
                                 [&probe](int64_t x) {
                                   probe.work_or_fail(5);
                                   return x;
                                 })
                  .for_each([](int64_t) {}));
}

BOOST_AUTO_TEST_SUITE_END()
