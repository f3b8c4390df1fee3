// Per-stage statistics of stream-DSL pipelines (actorflow/stats.hpp): exact
// item counts per stage and per channel, where the time goes (a slow sink is
// the bottleneck, its upstream stalls on backpressure, a stage asking an
// actor waits), live reading while a pipeline is held on a gate the test
// controls, the blocking run's monitor, and the Graphviz output.
//
// Timing assertions compare figures of one run with each other (never with
// absolute durations), and every "while it runs" check waits for a state
// the test itself causes, so they hold on a loaded 2-core machine.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <numeric>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>

#include "actorflow/ask.hpp"
#include "support/test_support.hpp"

namespace actorflow {

/// Lets BOOST_TEST print stage states (found by ADL).
inline std::ostream& boost_test_print_type(std::ostream& os, stage_state x) {
  return os << to_string(x);
}

} // namespace actorflow

using namespace std::chrono_literals;
using actorflow::edge_stats;
using actorflow::pipeline_monitor;
using actorflow::pipeline_stats;
using actorflow::run_options;
using actorflow::stage_state;
using actorflow::stage_stats;
using actorflow::task;
using actorflow_test::eventually;
using actorflow_test::system_fixture;
using actorflow_test::value_of;
namespace utf = boost::unit_test;

namespace {

/// A gate that a stage blocks on (holding its scheduler thread) until the
/// test opens it. Shared by the stage and the test; `opener` opens it when
/// the test case leaves, so a failing check never leaves a stage blocked.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;
  std::atomic<bool> entered{false};

  void pass() {
    entered = true;
    std::unique_lock guard{mtx};
    cv.wait(guard, [this] { return open; });
  }

  void release() {
    {
      std::lock_guard guard{mtx};
      open = true;
    }
    cv.notify_all();
  }
};

struct opener {
  std::shared_ptr<gate> g;
  ~opener() {
    g->release();
  }
};

/// The stage named `name`; the test case stops if there is none.
const stage_stats& stage(const pipeline_stats& st, const std::string& name) {
  auto ptr = st.find(name);
  if (ptr == nullptr)
    BOOST_FAIL("no stage named " << name << " in:\n"
                                 << actorflow::to_string(st));
  return *ptr;
}

size_t index_of(const pipeline_stats& st, const std::string& name) {
  return static_cast<size_t>(&stage(st, name) - st.stages.data());
}

/// The edges from stage `from` to stage `to` (by name).
std::vector<edge_stats> edges(const pipeline_stats& st, const std::string& from,
                              const std::string& to) {
  auto f = from.empty() ? edge_stats::outside : index_of(st, from);
  auto t = to.empty() ? edge_stats::outside : index_of(st, to);
  std::vector<edge_stats> result;
  for (auto& e : st.edges)
    if (e.from == f && e.to == t)
      result.push_back(e);
  return result;
}

std::vector<std::string> names(const pipeline_stats& st) {
  std::vector<std::string> result;
  for (auto& s : st.stages)
    result.push_back(s.name);
  return result;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size()))
    ++n;
  return n;
}

/// Checks the shape of a Graphviz digraph from `to_dot`: header and footer,
/// one node per stage, one edge line per edge, balanced quotes and braces.
void check_dot(const std::string& dot, const pipeline_stats& st) {
  BOOST_TEST_CONTEXT(dot) {
    BOOST_TEST(dot.rfind("digraph pipeline {\n", 0) == 0);
    BOOST_TEST(dot.size() >= 2);
    BOOST_TEST(dot.substr(dot.size() - 2) == "}\n");
    for (size_t i = 0; i < st.stages.size(); ++i) {
      auto node = "  s" + std::to_string(i) + " [label=\"";
      BOOST_TEST(count(dot, node) == 1u, "node of " << st.stages[i].name);
      BOOST_TEST(actorflow_test::contains(dot, st.stages[i].name));
    }
    BOOST_TEST(count(dot, " -> ") == st.edges.size());
    BOOST_TEST(count(dot, "{") == count(dot, "}"));
    // Every quote is part of a pair (escaped quotes excluded).
    BOOST_TEST((count(dot, "\"") - count(dot, "\\\"")) % 2 == 0u);
    BOOST_TEST(count(dot, "fillcolor=\"#f4a6a6\"")
               == (st.bottleneck() != nullptr ? 1u : 0u));
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(counts)

//! Contract: items_in/items_out of every stage and the items of every edge
//! are exact once the pipeline ended: iota 0..N -> filter(even) -> then ->
//! collect gives N / N,N/2 / N/2,N/2 / N/2; every stage is done; every edge
//! carries the run's capacity and a high-water mark within it.
BOOST_FIXTURE_TEST_CASE(linear_pipeline_counts_are_exact, system_fixture,
                        *utf::label("stats")) {
  constexpr int n = 1000;
  run_options ro;
  ro.capacity = 16; // many batches, credit rounds and activations
  auto run = actorflow::iota(0, n)
               .filter([](int x) { return x % 2 == 0; })
               .then([](int x) { return x * 3; })
               .collect()
               .start(sys, ro);
  auto xs = value_of(run.wait());
  BOOST_TEST_REQUIRE(xs.size() == size_t{n / 2});
  BOOST_TEST(xs.back() == (n - 2) * 3);
  auto st = run.stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  auto want = std::vector<std::string>{"iota#1", "filter#2", "then#3",
                                       "sink#4"};
  BOOST_TEST(names(st) == want, boost::test_tools::per_element());
  auto expect = [&](const std::string& name, uint64_t in, uint64_t out) {
    auto& s = stage(st, name);
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(s.items_in == in);
      BOOST_TEST(s.items_out == out);
      BOOST_TEST(s.done);
      BOOST_TEST(s.state == stage_state::done);
      BOOST_TEST(s.busy.count() > 0);
      BOOST_TEST(s.alive() == s.busy + s.stalled + s.idle + s.waiting);
    }
  };
  expect("iota#1", 0, n);
  expect("filter#2", n, n / 2);
  expect("then#3", n / 2, n / 2);
  expect("sink#4", n / 2, 0);
  BOOST_TEST_REQUIRE(st.edges.size() == 3u);
  auto check_edge = [&](const std::string& from, const std::string& to,
                        uint64_t items) {
    BOOST_TEST_CONTEXT(from << " -> " << to) {
      auto es = edges(st, from, to);
      BOOST_TEST_REQUIRE(es.size() == 1u);
      BOOST_TEST(es[0].items == items);
      BOOST_TEST(es[0].capacity == 16u);
      BOOST_TEST(es[0].max_in_flight > 0u);
      BOOST_TEST(es[0].max_in_flight <= 16u);
      BOOST_TEST(!es[0].control);
    }
  };
  check_edge("iota#1", "filter#2", n);
  check_edge("filter#2", "then#3", n / 2);
  check_edge("then#3", "sink#4", n / 2);
  // Reading again after the end gives the same final figures.
  auto again = run.stats();
  for (size_t i = 0; i < st.stages.size(); ++i) {
    BOOST_TEST(again.stages[i].busy == st.stages[i].busy);
    BOOST_TEST(again.stages[i].alive() == st.stages[i].alive());
    BOOST_TEST(again.stages[i].items_in == st.stages[i].items_in);
  }
}

//! Contract: parallel_then's actors count their own items (the workers'
//! inputs add up to N), the reorder gate's wake-up tokens count as no stage's items and are
//! drawn as a control edge from the gather back to the scatter; a fan-out
//! edge counts what its receiver took, a fan-in edge what its sender sent.
BOOST_FIXTURE_TEST_CASE(parallel_then_counts_per_actor, system_fixture,
                        *utf::label("stats")) {
  constexpr int n = 3000;
  run_options ro;
  ro.capacity = 32;
  auto run = actorflow::iota(0, n)
               .parallel_then(
                 2, [](int x) { return x + 1; }, 16)
               .collect()
               .start(sys, ro);
  auto xs = value_of(run.wait());
  BOOST_TEST_REQUIRE(xs.size() == size_t{n});
  auto st = run.stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  auto want = std::vector<std::string>{
    "iota#1",
    "parallel_then#2.scatter",
    "parallel_then#2.worker1",
    "parallel_then#2.worker2",
    "parallel_then#2.gather",
    "sink#3",
  };
  BOOST_TEST(names(st) == want, boost::test_tools::per_element());
  auto& scatter = stage(st, "parallel_then#2.scatter");
  auto& w1 = stage(st, "parallel_then#2.worker1");
  auto& w2 = stage(st, "parallel_then#2.worker2");
  auto& gather = stage(st, "parallel_then#2.gather");
  BOOST_TEST(scatter.items_in == uint64_t{n}); // tokens not included
  BOOST_TEST(scatter.items_out == uint64_t{n});
  BOOST_TEST(w1.items_in + w2.items_in == uint64_t{n});
  BOOST_TEST(w1.items_out == w1.items_in);
  BOOST_TEST(w2.items_out == w2.items_in);
  BOOST_TEST(gather.items_in == uint64_t{n});
  BOOST_TEST(gather.items_out == uint64_t{n}); // tokens not included
  BOOST_TEST(stage(st, "sink#3").items_in == uint64_t{n});
  for (auto& s : st.stages)
    BOOST_TEST(s.done, s.name);
  // Edges: iota->scatter, scatter->w1, scatter->w2, w1->gather, w2->gather,
  // gather->scatter (tokens), gather->sink.
  BOOST_TEST(st.edges.size() == 7u);
  auto one = [&](const std::string& from, const std::string& to) {
    auto es = edges(st, from, to);
    BOOST_TEST_REQUIRE(es.size() == 1u, from << " -> " << to);
    return es[0];
  };
  BOOST_TEST(one("iota#1", "parallel_then#2.scatter").items == uint64_t{n});
  auto to_w1 = one("parallel_then#2.scatter", "parallel_then#2.worker1");
  auto to_w2 = one("parallel_then#2.scatter", "parallel_then#2.worker2");
  BOOST_TEST(to_w1.items == w1.items_in);
  BOOST_TEST(to_w2.items == w2.items_in);
  BOOST_TEST(one("parallel_then#2.worker1", "parallel_then#2.gather").items
             == w1.items_out);
  BOOST_TEST(one("parallel_then#2.worker2", "parallel_then#2.gather").items
             == w2.items_out);
  auto tokens = one("parallel_then#2.gather", "parallel_then#2.scatter");
  BOOST_TEST(tokens.control);
  BOOST_TEST(tokens.capacity == 16u);
  // One wake-up per time the scatter ran out of window, not one per item.
  BOOST_TEST(tokens.items <= uint64_t{n});
  BOOST_TEST(one("parallel_then#2.gather", "sink#3").items == uint64_t{n});
  auto dot = st.to_dot();
  check_dot(dot, st);
  BOOST_TEST(count(dot, "style=dashed") == 1u);
}

//! Contract: with the automatic capacity (run_options::capacity unset, the
//! default) each channel holds 64 KiB of items by sizeof(T), between 1024
//! and 16384 items, and never has more in flight; parallel_then's window
//! (the capacity of its work channel) is 4096; an explicit capacity applies
//! to every channel.
BOOST_FIXTURE_TEST_CASE(automatic_capacity_by_item_size, system_fixture,
                        *utf::label("stats")) {
  struct wide {
    int64_t x;
    char pad[120];
  };
  static_assert(sizeof(wide) == 128);
  constexpr int n = 50000;
  auto pipeline = [] {
    return actorflow::iota(0, n)
      .then([](int x) {
        return wide{x, {}};
      })
      .then([](wide w) { return static_cast<uint64_t>(w.x); })
      .parallel_then(2, [](uint64_t x) { return x + 1; })
      .fold(uint64_t{0}, [](uint64_t acc, uint64_t x) { return acc + x; });
  };
  auto check = [&](run_options ro, size_t int_cap, size_t wide_cap,
                   size_t u64_cap, size_t window) {
    BOOST_TEST_CONTEXT("run_options::capacity " << ro.capacity.value_or(0)) {
      auto run = pipeline().start(sys, ro);
      BOOST_TEST(value_of(run.wait()) == uint64_t{n} * (n + 1) / 2);
      auto st = run.stats();
      BOOST_TEST_INFO(actorflow::to_string(st));
      auto one = [&](const std::string& from, const std::string& to) {
        auto es = edges(st, from, to);
        BOOST_TEST_REQUIRE(es.size() == 1u, from << " -> " << to);
        BOOST_TEST(es[0].max_in_flight <= es[0].capacity, from << " -> " << to);
        return es[0].capacity;
      };
      BOOST_TEST(one("iota#1", "then#2") == int_cap);
      BOOST_TEST(one("then#2", "then#3") == wide_cap);
      BOOST_TEST(one("then#3", "parallel_then#4.scatter") == u64_cap);
      BOOST_TEST(one("parallel_then#4.scatter", "parallel_then#4.worker1")
                 == window);
    }
  };
  check(run_options{}, 16384, 1024, 8192, 4096);
  run_options fixed;
  fixed.capacity = 100;
  check(fixed, 100, 100, 100, 400);
}

//! Contract: fan-in edges (merge, route_by_key's workers into the next
//! stage) count per sender, fan-out edges (route_by_key's lanes) per
//! receiver; the counts add up to the stage totals.
BOOST_FIXTURE_TEST_CASE(merge_and_route_by_key_edges, system_fixture,
                        *utf::label("stats")) {
  auto run = actorflow::merge(actorflow::iota(0, 300), actorflow::iota(0, 200))
               .route_by_key(
                 2, [](int x) { return x % 7; }, [](int x) { return x * 2; })
               .collect()
               .start(sys);
  auto xs = value_of(run.wait());
  BOOST_TEST(xs.size() == 500u);
  auto st = run.stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  auto want = std::vector<std::string>{
    "iota#1",
    "iota#2",
    "route_by_key#3.scatter",
    "route_by_key#3.worker1",
    "route_by_key#3.worker2",
    "sink#4",
  };
  BOOST_TEST(names(st) == want, boost::test_tools::per_element());
  auto one = [&](const std::string& from, const std::string& to) {
    auto es = edges(st, from, to);
    BOOST_TEST_REQUIRE(es.size() == 1u, from << " -> " << to);
    return es[0].items;
  };
  BOOST_TEST(one("iota#1", "route_by_key#3.scatter") == 300u);
  BOOST_TEST(one("iota#2", "route_by_key#3.scatter") == 200u);
  auto& scatter = stage(st, "route_by_key#3.scatter");
  BOOST_TEST(scatter.items_in == 500u);
  BOOST_TEST(scatter.items_out == 500u);
  auto& w1 = stage(st, "route_by_key#3.worker1");
  auto& w2 = stage(st, "route_by_key#3.worker2");
  BOOST_TEST(one("route_by_key#3.scatter", "route_by_key#3.worker1")
             == w1.items_in);
  BOOST_TEST(one("route_by_key#3.scatter", "route_by_key#3.worker2")
             == w2.items_in);
  BOOST_TEST(w1.items_in + w2.items_in == 500u);
  BOOST_TEST(one("route_by_key#3.worker1", "sink#4") == w1.items_out);
  BOOST_TEST(one("route_by_key#3.worker2", "sink#4") == w2.items_out);
  BOOST_TEST(stage(st, "sink#4").items_in == 500u);
  BOOST_TEST(st.edges.size() == 6u);
  check_dot(st.to_dot(), st);
}

//! Contract: a channel fed from outside (from(receiver)) is an edge from
//! outside; to_dot draws its outside end as a point.
BOOST_FIXTURE_TEST_CASE(edge_from_outside, system_fixture,
                        *utf::label("stats")) {
  auto ch = actorflow::channel<int>(sys, 8);
  BOOST_TEST_REQUIRE(static_cast<bool>(ch));
  auto [tx, rx] = std::move(*ch);
  std::thread feeder{[tx = std::move(tx)]() mutable {
    for (int i = 0; i < 100; ++i)
      if (!tx.blocking_send(i))
        break;
    tx.close();
  }};
  auto run = actorflow::from(std::move(rx)).collect().start(sys);
  auto xs = value_of(run.wait());
  feeder.join();
  BOOST_TEST(xs.size() == 100u);
  auto st = run.stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  auto in = edges(st, "", "from#1");
  BOOST_TEST_REQUIRE(in.size() == 1u);
  BOOST_TEST(in[0].items == 100u);
  BOOST_TEST(in[0].capacity == 8u);
  BOOST_TEST(stage(st, "from#1").items_in == 100u);
  BOOST_TEST(stage(st, "from#1").items_out == 100u);
  auto dot = st.to_dot();
  check_dot(dot, st);
  BOOST_TEST(count(dot, "shape=point") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(timing)

//! Contract: while a slow sink holds the pipeline (it blocks on a gate the
//! test controls), the stats are readable and live: upstream stages are
//! stalled on backpressure with their counts > 0, nothing is done, the
//! channel into the sink ran full. After the run the sink is the
//! bottleneck and its upstream spent more time stalled than busy.
BOOST_FIXTURE_TEST_CASE(slow_sink_is_the_bottleneck, system_fixture,
                        *utf::label("stats")) {
  constexpr int n = 500;
  constexpr size_t cap = 64;
  auto g = std::make_shared<gate>();
  opener guard{g};
  run_options ro;
  ro.capacity = cap;
  auto run = actorflow::iota(0, n)
               .then([](int x) { return x + 1; })
               .for_each([g](int x) {
                 if (x == 1)
                   g->pass(); // the first item holds the sink
               })
               .start(sys, ro);
  BOOST_TEST_REQUIRE(eventually([&] { return g->entered.load(); }));
  // Upstream fills both channels and stalls.
  auto held = [&] {
    auto st = run.stats();
    auto& it = stage(st, "iota#1");
    auto& th = stage(st, "then#2");
    return it.state == stage_state::stalled && th.state == stage_state::stalled
           && th.items_out == cap;
  };
  BOOST_TEST_REQUIRE(eventually(held), actorflow::to_string(run.stats()));
  // Hold the sink until its busy time dwarfs the upstream's, and the time
  // then#2 spent stalled dwarfs its busy time (its figures no longer move
  // but the stalled time): a bounded wait on figures, not a sleep. What is
  // left after the gate opens (< n items) cannot change the verdict, even
  // in a sanitizer build.
  auto dwarfed = [&] {
    auto st = run.stats();
    auto& snk = stage(st, "sink#3");
    auto& th = stage(st, "then#2");
    auto upstream = stage(st, "iota#1").busy + th.busy;
    return snk.busy > 20 * upstream && th.stalled > 20 * th.busy
           && th.stalled > 50ms;
  };
  BOOST_TEST_REQUIRE(eventually(dwarfed), actorflow::to_string(run.stats()));
  {
    auto st = run.stats();
    BOOST_TEST_INFO(actorflow::to_string(st));
    BOOST_TEST(!run.done());
    for (auto& s : st.stages)
      BOOST_TEST(!s.done, s.name);
    auto& it = stage(st, "iota#1");
    auto& th = stage(st, "then#2");
    auto& snk = stage(st, "sink#3");
    BOOST_TEST(snk.state == stage_state::busy);
    BOOST_TEST(it.items_out > 0u);
    BOOST_TEST(th.items_in > 0u);
    BOOST_TEST(th.items_out == cap);
    BOOST_TEST(th.stalled.count() > 0);
    BOOST_TEST(it.stalled.count() > 0);
    auto into_sink = edges(st, "then#2", "sink#3");
    BOOST_TEST_REQUIRE(into_sink.size() == 1u);
    BOOST_TEST(into_sink[0].max_in_flight == cap); // ran full
    BOOST_TEST_REQUIRE(st.bottleneck() != nullptr);
    BOOST_TEST(st.bottleneck()->name == "sink#3");
    check_dot(st.to_dot(), st);
    BOOST_TEST(actorflow_test::contains(st.to_dot(), "(stalled)"));
  }
  g->release();
  BOOST_TEST_REQUIRE(static_cast<bool>(run.wait()));
  auto st = run.stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  auto& th = stage(st, "then#2");
  BOOST_TEST(stage(st, "iota#1").items_out == uint64_t{n});
  BOOST_TEST(th.items_in == uint64_t{n});
  BOOST_TEST(stage(st, "sink#3").items_in == uint64_t{n});
  BOOST_TEST(th.stalled > th.busy);
  BOOST_TEST(th.stalled_share() > 0.5);
  BOOST_TEST_REQUIRE(st.bottleneck() != nullptr);
  BOOST_TEST(st.bottleneck()->name == "sink#3");
  for (auto& s : st.stages)
    BOOST_TEST(s.done, s.name);
  check_dot(st.to_dot(), st);
}

//! Contract: a sink that does real CPU work per item (no gate) is the
//! bottleneck, and the stage before it is stalled more than busy.
BOOST_FIXTURE_TEST_CASE(cpu_bound_sink_is_the_bottleneck, system_fixture,
                        *utf::label("stats")) {
  // ~100 ms of sink work: 200 us per item, far above what `then` costs per
  // item even in a sanitizer build.
  constexpr int n = 500;
  run_options ro;
  ro.capacity = 32;
  auto run = actorflow::iota(0, n)
               .then([](int x) { return x * 2; })
               .for_each([](int) { actorflow_test::spin_for(200us); })
               .start(sys, ro);
  BOOST_TEST_REQUIRE(static_cast<bool>(run.wait()));
  auto st = run.stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  auto& th = stage(st, "then#2");
  auto& snk = stage(st, "sink#3");
  BOOST_TEST_REQUIRE(st.bottleneck() != nullptr);
  BOOST_TEST(st.bottleneck()->name == "sink#3");
  BOOST_TEST(snk.busy > 5 * th.busy);
  BOOST_TEST(th.stalled > th.busy);
  BOOST_TEST(snk.busy_share() > th.busy_share());
}

//! Contract: time a `then` coroutine spends in co_await ask(...) counts as
//! waiting, not busy: the asked actor's work lies in the stage's waiting.
BOOST_FIXTURE_TEST_CASE(ask_counts_as_waiting, system_fixture,
                        *utf::label("stats")) {
  // Busy is wall time within an activation: a thread preempted there (the
  // asked actor's thread, woken by the request, may preempt it on a busy
  // machine) stays busy for as long as it does not run, so shares of wall
  // time prove nothing. What preemption cannot move: the asked actor starts
  // its work only once the stage shows `waiting`, and the stage cannot leave
  // that state before the answer, so every answer's work is waiting time.
  constexpr int n = 200;
  constexpr auto work = 500us;
  run_options ro;
  ro.monitor = std::make_shared<pipeline_monitor>();
  auto misses = std::make_shared<std::atomic<int>>(0);
  auto slow = sys.spawn([mon = ro.monitor, misses, work]() -> caf::behavior {
    return {[mon, misses, work](int x) {
      auto waiting = [&] {
        auto st = mon->stats();
        auto th = st.find("then#2");
        return th != nullptr && th->state == stage_state::waiting;
      };
      // After a miss, the rest would only wait out their bound too.
      if (misses->load() > 0 || !eventually(waiting, 2s))
        ++*misses;
      actorflow_test::spin_for(work); // the asked actor works, not the stage
      return x * 3;
    }};
  });
  auto run = actorflow::iota(0, n)
               .then([slow](int x) -> task<int> {
                 auto r = co_await actorflow::ask<int>(slow, 5s, x);
                 co_return r ? *r : -1;
               })
               .collect()
               .start(sys, ro);
  auto xs = value_of(run.wait());
  BOOST_TEST_REQUIRE(xs.size() == static_cast<size_t>(n));
  BOOST_TEST(xs[7] == 21);
  auto st = run.stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  auto& th = stage(st, "then#2");
  BOOST_TEST(misses->load() == 0, "the stage did not show `waiting` during "
                                    << misses->load() << " of " << n
                                    << " asks");
  BOOST_TEST((th.waiting >= n * work));
  BOOST_TEST(actorflow_test::contains(st.to_dot(), "waiting"));
  caf::anon_send_exit(slow, caf::exit_reason::user_shutdown);
}

//! Contract: a blocking run records into the monitor of its run_options,
//! readable from another thread while it runs and after it returned; a
//! monitor used for a second run starts over.
BOOST_FIXTURE_TEST_CASE(blocking_run_with_a_monitor, system_fixture,
                        *utf::label("stats")) {
  auto g = std::make_shared<gate>();
  opener guard{g};
  run_options ro;
  ro.capacity = 8;
  ro.monitor = std::make_shared<pipeline_monitor>();
  auto mon = ro.monitor;
  auto pipeline = actorflow::iota(0, 500)
                    .then([g](int x) {
                      if (x == 100)
                        g->pass();
                      return x;
                    })
                    .fold(int64_t{0},
                          [](int64_t acc, int x) { return acc + x; });
  auto result = std::async(std::launch::async,
                           [&sys = sys, p = std::move(pipeline), ro]() mutable {
                             return std::move(p).run(sys, ro);
                           });
  BOOST_TEST_REQUIRE(eventually([&] { return g->entered.load(); }));
  {
    auto st = mon->stats();
    BOOST_TEST_INFO(actorflow::to_string(st));
    BOOST_TEST_REQUIRE(st.stages.size() == 3u);
    auto& th = stage(st, "then#2");
    BOOST_TEST(!th.done);
    BOOST_TEST(th.state == stage_state::busy);
    BOOST_TEST(stage(st, "iota#1").items_out > 0u);
    BOOST_TEST(th.items_out > 0u); // the first 100 left already
    BOOST_TEST(th.items_out <= 100u);
  }
  g->release();
  auto sum = value_of(result.get());
  BOOST_TEST(sum == int64_t{500 * 499 / 2});
  auto st = mon->stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  BOOST_TEST(stage(st, "then#2").items_out == 500u);
  BOOST_TEST(stage(st, "sink#3").items_in == 500u);
  BOOST_TEST(stage(st, "sink#3").done);
  // The same monitor, another run: only the new stages.
  auto xs = value_of(actorflow::iota(0, 10).collect().run(sys, ro));
  BOOST_TEST(xs.size() == 10u);
  auto st2 = mon->stats();
  BOOST_TEST_REQUIRE(st2.stages.size() == 2u);
  BOOST_TEST(st2.stages[1].name == "sink#2");
  BOOST_TEST(st2.stages[1].items_in == 10u);
  // reduce runs its fold through the same options.
  auto r = actorflow::iota(1, 11)
             .reduce([](int a, int b) { return a + b; })
             .run(sys, ro);
  BOOST_TEST(value_of(std::move(r)) == 55);
  BOOST_TEST(mon->stats().stages.size() == 2u);
  BOOST_TEST(mon->stats().stages[1].items_in == 10u);
}

//! Contract: the latency histogram rounds up by less than a quarter: every
//! value lies in a bucket whose upper bound is at least the value and
//! under 1.25 times it; buckets grow with the value; a percentile is the
//! upper bound of the bucket of its rank, zero without items.
BOOST_AUTO_TEST_CASE(latency_histogram_buckets_and_percentiles,
                     *utf::label("stats")) {
  using actorflow::latency_histogram;
  size_t last = 0;
  for (uint64_t v = 1; v < (uint64_t{1} << 62); v += v / 8 + 1) {
    auto b = latency_histogram::bucket_of(v);
    auto ub = latency_histogram::upper_bound(b);
    BOOST_TEST(b >= last, v);
    BOOST_TEST(ub >= v, v);
    BOOST_TEST(static_cast<double>(ub) < 1.25 * static_cast<double>(v) + 1, v);
    BOOST_TEST(latency_histogram::bucket_of(ub) == b, v);
    BOOST_TEST(latency_histogram::bucket_of(ub + 1) == b + 1, v);
    last = b;
  }
  latency_histogram h;
  BOOST_TEST(h.percentile(0.5).count() == 0);
  for (int us = 1; us <= 1000; ++us)
    h.add(std::chrono::microseconds{us});
  h.add(std::chrono::microseconds{500}, 1000); // weighted: 1000 more items
  BOOST_TEST(h.count() == 2000u);
  auto near = [](std::chrono::nanoseconds got, std::chrono::nanoseconds want) {
    return got >= want && got.count() < want.count() * 5 / 4;
  };
  BOOST_TEST(near(h.percentile(0.5), 500us), h.percentile(0.5).count());
  BOOST_TEST(near(h.percentile(0.999), 998us), h.percentile(0.999).count());
  BOOST_TEST(near(h.percentile(1.0), 1000us), h.percentile(1.0).count());
  BOOST_TEST(near(h.percentile(0.0), 1us), h.percentile(0.0).count());
  latency_histogram twice = h;
  twice.merge(h);
  BOOST_TEST(twice.count() == 4000u);
  BOOST_TEST(twice.percentile(0.5) == h.percentile(0.5));
}

//! Contract: every item a stage took counts once in its latency histogram
//! (sources have none), and the time from entering a stage's input
//! channel to leaving the stage includes the queueing: while the sink
//! holds its first item for a while, the items queued behind it wait as
//! long, so the sink's p99 is at least that wait, far above the p50 of the
//! stages before it. The table and the Graphviz labels show p50 and p99.
BOOST_FIXTURE_TEST_CASE(per_stage_latency_histograms, system_fixture,
                        *utf::label("stats")) {
  constexpr int n = 2000;
  auto g = std::make_shared<gate>();
  opener guard{g};
  run_options ro;
  ro.capacity = 64;
  auto run = actorflow::iota(0, n)
               .then([](int x) { return x + 1; })
               .parallel_then(2, [](int x) { return x * 2; })
               .for_each([g](int x) {
                 if (x == 2)
                   g->pass(); // the first item holds the sink
               })
               .start(sys, ro);
  BOOST_TEST_REQUIRE(eventually([&] { return g->entered.load(); }));
  // Once the channel into the sink ran full, hold the sink 50 ms more by its
  // own busy figure (a bounded wait on a reading, not a sleep): the items
  // in that channel (64, over 1% of them) then waited at least that long.
  std::chrono::nanoseconds full_at{0};
  auto full = [&] {
    auto st = run.stats();
    auto into = edges(st, "parallel_then#3.gather", "sink#4");
    if (into.size() != 1 || into[0].max_in_flight < into[0].capacity)
      return false;
    full_at = stage(st, "sink#4").busy;
    return true;
  };
  BOOST_TEST_REQUIRE(eventually(full), actorflow::to_string(run.stats()));
  auto held = [&] {
    return stage(run.stats(), "sink#4").busy > full_at + 50ms;
  };
  BOOST_TEST_REQUIRE(eventually(held), actorflow::to_string(run.stats()));
  g->release();
  BOOST_TEST_REQUIRE(static_cast<bool>(run.wait()));
  auto st = run.stats();
  auto table = actorflow::to_string(st);
  BOOST_TEST_INFO(table);
  for (auto& s : st.stages)
    BOOST_TEST(s.latency.count() == s.items_in, s.name);
  BOOST_TEST(stage(st, "iota#1").latency.count() == 0u);
  auto& sink = stage(st, "sink#4");
  BOOST_TEST(sink.items_in == uint64_t{n});
  BOOST_TEST(sink.latency.percentile(0.99) >= 50ms);
  BOOST_TEST(sink.latency.percentile(0.99)
             > 10 * stage(st, "then#2").latency.percentile(0.5));
  BOOST_TEST(actorflow_test::contains(table, "p99"));
  auto dot = st.to_dot();
  BOOST_TEST(count(dot, "latency p50 ") == st.stages.size() - 1, dot);
  check_dot(dot, st);
}

//! Contract: a cancelled pipeline's stages all end as done, with the
//! figures they reached; a pipeline that failed to build has empty stats
//! and a well-formed (empty) digraph.
BOOST_FIXTURE_TEST_CASE(cancelled_and_invalid_pipelines, system_fixture,
                        *utf::label("stats")) {
  auto run = actorflow::iota(0)
               .then([](int x) { return x; })
               .for_each([](int) {})
               .start(sys);
  BOOST_TEST_REQUIRE(
    eventually([&] { return stage(run.stats(), "sink#3").items_in > 1000u; }));
  run.cancel();
  BOOST_TEST(!run.wait());
  auto st = run.stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  for (auto& s : st.stages)
    BOOST_TEST(s.done, s.name);
  BOOST_TEST(stage(st, "iota#1").items_out >= stage(st, "then#2").items_in);
  auto bad = actorflow::iota(0, 10)
               .parallel_then(0, [](int x) { return x; })
               .collect()
               .start(sys);
  BOOST_TEST(!bad.wait());
  auto empty = bad.stats();
  BOOST_TEST(empty.stages.empty());
  BOOST_TEST(empty.bottleneck() == nullptr);
  check_dot(empty.to_dot(), empty);
}

BOOST_AUTO_TEST_SUITE_END()
