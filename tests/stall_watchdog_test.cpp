// The stall watchdog (actorflow/stall_watchdog.hpp): `find_stall` on
// readings made up by hand, and 50 random pipelines, each with one injected
// stuck or slow stage, in which the watchdog must name that stage within 2 s
// of the stall's start.
//
// A stuck stage spins (busy) or asks an actor that never answers (waiting)
// until the test releases it; a slow one spins 4 times the watchdog's
// threshold per item. Each case releases its stage and cancels its run when
// it is done, whatever its checks say.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/response_promise.hpp>

#include "actorflow/ask.hpp"
#include "actorflow/stall_watchdog.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using actorflow::edge_stats;
using actorflow::find_stall;
using actorflow::pipeline_stats;
using actorflow::stage_state;
using actorflow::stage_stats;
using actorflow::stall_report;
using actorflow_test::system_fixture;
namespace utf = boost::unit_test;

namespace {

// -- readings made up by hand ---------------------------------------------------

stage_stats made_up(std::string name, std::chrono::milliseconds busy,
                    std::chrono::milliseconds stalled,
                    std::chrono::milliseconds idle,
                    std::chrono::milliseconds waiting = 0ms) {
  stage_stats s;
  s.name = std::move(name);
  s.busy = busy;
  s.stalled = stalled;
  s.idle = idle;
  s.waiting = waiting;
  return s;
}

edge_stats edge(size_t from, size_t to, bool control = false) {
  edge_stats e;
  e.from = from;
  e.to = to;
  e.control = control;
  return e;
}

/// The same stages, all times zero: the reading at the stall's start.
pipeline_stats zeroed(const pipeline_stats& st) {
  auto result = st;
  for (auto& s : result.stages)
    s = made_up(s.name, 0ms, 0ms, 0ms);
  return result;
}

} // namespace

// The data test case below is a template: what its lambdas capture must have
// linkage (GCC's -Wsubobject-linkage), hence a named namespace.
namespace watchdog_test {

// -- random pipelines with one injected stage -----------------------------------

/// How the injected stage misbehaves once items reach it.
enum class fault { spin, ask, slow };

const char* to_string(fault f) {
  switch (f) {
    case fault::spin:
      return "stuck, busy";
    case fault::ask:
      return "stuck, waiting for an actor";
    default:
      return "slow";
  }
}

/// What the injected function shares with the test.
struct injection {
  fault kind = fault::spin;
  std::chrono::nanoseconds slow_per_item{0};
  std::atomic<bool> released{false};
  std::atomic<bool> started{false};
  std::chrono::steady_clock::time_point started_at;
  std::mutex mtx;

  /// The first faulty call marks the stall's start.
  void begin() {
    std::lock_guard guard{mtx};
    if (!started.exchange(true))
      started_at = std::chrono::steady_clock::now();
  }

  /// Spins until released, or for `d` (slow).
  void spin(std::chrono::nanoseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (!released.load() && std::chrono::steady_clock::now() < until) {
      // busy
    }
  }
};

/// Items from this one on misbehave (the pipeline runs normally first).
constexpr int first_bad = 20;

/// A silent actor: keeps every request's promise and never answers.
caf::behavior silent(
  caf::stateful_actor<std::vector<caf::response_promise>>* self) {
  return {[self](int) {
    self->state.push_back(self->make_response_promise());
    return self->state.back();
  }};
}

/// The function of the injected stage: the item through, after the fault.
struct faulty {
  std::shared_ptr<injection> inj;

  int operator()(int x) const {
    if (x >= first_bad) {
      inj->begin();
      inj->spin(inj->kind == fault::slow ? inj->slow_per_item : 10s);
    }
    return x;
  }
};

/// What the test expects and what the watchdog reported (its first report).
struct outcome {
  std::string expected; // the injected stage's name (or its prefix)
  std::mutex mtx;
  std::optional<stall_report> report;
  std::chrono::steady_clock::time_point reported_at;
  std::atomic<int> reports{0};
};

/// Runs random pipeline `seed` with one injected stage and checks the
/// watchdog's report.
void check_random_pipeline(caf::actor_system& sys, int seed) {
  std::mt19937 rng{static_cast<unsigned>(seed) * 7919u + 17u};
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>{lo, hi}(rng);
  };
  auto ops = pick(1, 4);      // stages between source and sink
  auto target = pick(0, ops); // ops: the sink
  auto inj = std::make_shared<injection>();
  inj->kind = static_cast<fault>(pick(0, 2));
  constexpr auto threshold = 250ms;
  inj->slow_per_item = 4 * threshold;
  auto mute = sys.spawn(silent);
  auto out = std::make_shared<outcome>();
  actorflow::run_options opts;
  opts.capacity = 64;
  opts.watchdog.after = threshold;
  opts.watchdog.log = false;
  opts.watchdog.on_stall = [out](const stall_report& r) {
    {
      std::lock_guard guard{out->mtx};
      if (!out->report) {
        out->report = r;
        out->reported_at = std::chrono::steady_clock::now();
      }
    }
    ++out->reports;
  };
  std::string shape = "iota";
  auto f = actorflow::iota(0, 1'000'000);
  for (int i = 0; i < ops; ++i) {
    auto name_no = std::to_string(i + 2); // iota is #1
    bool hit = i == target;
    auto kind = pick(0, 4);
    if (hit && inj->kind == fault::ask)
      kind = 4; // only a coroutine stage can wait on an actor
    switch (kind) {
      case 0:
        shape += ".then";
        out->expected = hit ? "then#" + name_no : out->expected;
        f = hit ? std::move(f).then(faulty{inj})
                : std::move(f).then([](int x) { return x; });
        break;
      case 1:
        shape += ".filter";
        out->expected = hit ? "filter#" + name_no : out->expected;
        if (hit)
          f = std::move(f).filter(
            [g = faulty{inj}](int x) { return g(x) >= 0; });
        else
          f = std::move(f).filter([](int x) { return x % 3 != 1; });
        break;
      case 2: {
        auto n = pick(2, 3);
        shape += ".parallel_then(" + std::to_string(n) + ")";
        out->expected = hit ? "parallel_then#" + name_no + ".worker"
                            : out->expected;
        f = hit ? std::move(f).parallel_then(n, faulty{inj})
                : std::move(f).parallel_then(n, [](int x) { return x; });
        break;
      }
      case 3: {
        auto n = pick(2, 3);
        shape += ".parallel_then_unordered(" + std::to_string(n) + ")";
        out->expected = hit ? "parallel_then_unordered#" + name_no + ".worker"
                            : out->expected;
        f = hit ? std::move(f).parallel_then_unordered(n, faulty{inj})
                : std::move(f).parallel_then_unordered(n,
                                                       [](int x) { return x; });
        break;
      }
      default:
        shape += ".then(ask)";
        out->expected = hit ? "then#" + name_no : out->expected;
        f = std::move(f).then([inj, mute, hit](int x) -> actorflow::task<int> {
          if (hit && x >= first_bad) {
            inj->begin();
            if (inj->kind == fault::ask) {
              auto r = co_await actorflow::ask<int>(mute, 60s, x);
              co_return r ? *r : x;
            }
            inj->spin(inj->kind == fault::slow ? inj->slow_per_item : 10s);
          }
          co_return x;
        });
    }
  }
  shape += ".for_each";
  if (target == ops)
    out->expected = "sink#" + std::to_string(ops + 2);
  auto sink = target == ops ? std::function<void(int)>{faulty{inj}}
                            : std::function<void(int)>{[](int) {
                              }};
  auto run = std::move(f).for_each(sink).start(sys, opts);
  // Wait for the report (bounded), then release the stage and end the run.
  auto reported
    = actorflow_test::eventually([&] { return out->reports.load() > 0; }, 10s);
  inj->released = true;
  run.cancel();
  (void)run.wait();
  caf::anon_send_exit(mute, caf::exit_reason::user_shutdown);
  BOOST_TEST_CONTEXT("seed " << seed << ": pipeline " << shape << ", injected "
                             << out->expected << " (" << to_string(inj->kind)
                             << ")") {
    BOOST_TEST_REQUIRE(inj->started.load());
    BOOST_TEST_REQUIRE(reported);
    std::lock_guard guard{out->mtx};
    auto& r = *out->report;
    BOOST_TEST_CONTEXT(actorflow::to_string_any(r.error)) {
      BOOST_TEST(r.stage.rfind(out->expected, 0) == 0u);
      auto delay = out->reported_at - inj->started_at;
      BOOST_TEST((delay <= 2s),
                 "reported after "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(
                        delay)
                        .count()
                   << " ms");
      BOOST_TEST(out->reports.load() == 1);
    }
  }
}

} // namespace watchdog_test

using namespace watchdog_test;

BOOST_AUTO_TEST_SUITE(stall_watchdog, *utf::label("watchdog"))

//! Contract: in a chain, the stage that was busy while the next one idled
//! and the previous one stalled is the cause; the report names it, says it
//! was busy, and its message names the neighbours.
BOOST_AUTO_TEST_CASE(find_stall_names_the_busy_stage_of_a_chain) {
  pipeline_stats now;
  now.stages = {made_up("iota#1", 0ms, 500ms, 0ms),
                made_up("then#2", 500ms, 0ms, 0ms),
                made_up("sink#3", 0ms, 0ms, 500ms)};
  now.edges = {edge(0, 1), edge(1, 2)};
  auto r = find_stall(zeroed(now), now);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->stage == "then#2");
  BOOST_TEST((r->doing == stage_state::busy));
  BOOST_TEST((r->quiet == 500ms));
  auto msg = actorflow::to_string_any(r->error);
  BOOST_TEST_INFO(msg);
  BOOST_TEST(static_cast<actorflow::error_code>(r->error.code())
             == actorflow::error_code::stalled);
  BOOST_TEST(actorflow_test::contains(msg, "then#2 holds it back: busy 100%"));
  BOOST_TEST(actorflow_test::contains(msg, "after it: sink#3 idle"));
  BOOST_TEST(actorflow_test::contains(msg, "before it: iota#1 stalled"));
}

//! Contract: behind a fan-in, the worker that waited (on an actor) is the
//! cause, not its idle siblings nor the scatter stalled on tokens (a
//! control edge, which the walk does not follow).
BOOST_AUTO_TEST_CASE(find_stall_walks_through_a_fan_in) {
  pipeline_stats now;
  now.stages = {made_up("iota#1", 0ms, 300ms, 0ms),
                made_up("p#2.scatter", 0ms, 300ms, 0ms),
                made_up("p#2.worker1", 0ms, 0ms, 300ms),
                made_up("p#2.worker2", 0ms, 0ms, 0ms, 300ms),
                made_up("p#2.gather", 0ms, 0ms, 300ms),
                made_up("sink#3", 0ms, 0ms, 300ms)};
  now.edges = {edge(0, 1), edge(1, 2),       edge(1, 3), edge(2, 4),
               edge(3, 4), edge(4, 1, true), edge(4, 5)};
  auto r = find_stall(zeroed(now), now);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->stage == "p#2.worker2");
  BOOST_TEST((r->doing == stage_state::waiting));
}

//! Contract: a slow last stage is its own cause.
BOOST_AUTO_TEST_CASE(find_stall_names_a_busy_sink) {
  pipeline_stats now;
  now.stages = {made_up("iota#1", 0ms, 200ms, 0ms),
                made_up("sink#2", 190ms, 0ms, 10ms)};
  now.edges = {edge(0, 1)};
  auto r = find_stall(zeroed(now), now);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->stage == "sink#2");
}

//! Contract: no report when every stage idled (nothing to do is no stall),
//! nor for readings of different pipelines.
BOOST_AUTO_TEST_CASE(find_stall_reports_no_idle_pipeline) {
  pipeline_stats now;
  now.stages = {made_up("from#1", 0ms, 0ms, 400ms),
                made_up("then#2", 0ms, 0ms, 400ms),
                made_up("sink#3", 0ms, 0ms, 400ms)};
  now.edges = {edge(edge_stats::outside, 0), edge(0, 1), edge(1, 2)};
  BOOST_TEST(!find_stall(zeroed(now), now).has_value());
  auto other = now;
  other.stages[1] = made_up("filter#2", 400ms, 0ms, 0ms);
  BOOST_TEST(!find_stall(zeroed(now), other).has_value());
  BOOST_TEST(!find_stall(pipeline_stats{}, pipeline_stats{}).has_value());
}

//! Contract: in 50 random pipelines (2 to 5 stages of then, filter,
//! parallel_then, parallel_then_unordered and a coroutine then that asks an
//! actor, ending in for_each), one stage is made stuck (spinning, or asking
//! an actor that never answers) or slow (4 times the threshold per item);
//! the watchdog, set to 250 ms, names that stage within 2 s of the stall's
//! start, once. Ten cases of five pipelines each (about half a second each).
BOOST_FIXTURE_TEST_CASE(random_pipelines_0, system_fixture) {
  for (int seed = 0; seed < 5; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_FIXTURE_TEST_CASE(random_pipelines_1, system_fixture) {
  for (int seed = 5; seed < 10; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_FIXTURE_TEST_CASE(random_pipelines_2, system_fixture) {
  for (int seed = 10; seed < 15; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_FIXTURE_TEST_CASE(random_pipelines_3, system_fixture) {
  for (int seed = 15; seed < 20; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_FIXTURE_TEST_CASE(random_pipelines_4, system_fixture) {
  for (int seed = 20; seed < 25; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_FIXTURE_TEST_CASE(random_pipelines_5, system_fixture) {
  for (int seed = 25; seed < 30; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_FIXTURE_TEST_CASE(random_pipelines_6, system_fixture) {
  for (int seed = 30; seed < 35; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_FIXTURE_TEST_CASE(random_pipelines_7, system_fixture) {
  for (int seed = 35; seed < 40; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_FIXTURE_TEST_CASE(random_pipelines_8, system_fixture) {
  for (int seed = 40; seed < 45; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_FIXTURE_TEST_CASE(random_pipelines_9, system_fixture) {
  for (int seed = 45; seed < 50; ++seed)
    check_random_pipeline(sys, seed);
}

BOOST_AUTO_TEST_SUITE_END()
