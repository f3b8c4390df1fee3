// Concurrency of coroutine stages (stage_options::concurrency): k asks in
// flight per stage actor or worker, proven by a CAF actor that answers only
// once it holds k requests, with the input order kept; failures among
// concurrent calls, early ends, and concurrency without a coroutine.

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actorflow/ask.hpp"
#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

// -- concurrency of coroutine stages ---------------------------------------------

namespace {

struct withholder_state {
  std::vector<std::pair<int, caf::typed_response_promise<int>>> held;
  size_t peak = 0;
};

/// A CAF actor that holds back its replies (x * 3) until it holds `k`
/// requests, then answers all of them, the newest first. A stage that never
/// has `k` requests in flight makes it wait forever: run_bounded reports the
/// hang after 10 s (the asks' own timeout, 30 s, only keeps a loaded
/// sanitizer run from failing spuriously).
caf::behavior withholder_impl(caf::stateful_actor<withholder_state>* self,
                              size_t k) {
  return {
    [self, k](int x) {
      auto rp = self->make_response_promise<int>();
      auto& st = self->state;
      st.held.emplace_back(x, rp);
      st.peak = std::max(st.peak, st.held.size());
      if (st.held.size() == k) {
        for (auto i = st.held.rbegin(); i != st.held.rend(); ++i)
          i->second.deliver(i->first * 3);
        st.held.clear();
      }
      return rp;
    },
    [self](caf::get_atom) { return self->state.peak; },
  };
}

/// A coroutine f that asks `whom` and tracks how many of its calls are in
/// flight at once (per process; the stage under test is the only user).
struct counting_ask {
  caf::actor whom;
  std::shared_ptr<std::atomic<int>> now = std::make_shared<std::atomic<int>>();
  std::shared_ptr<std::atomic<int>> peak = std::make_shared<std::atomic<int>>();

  task<int> operator()(int x) const {
    auto n = ++*now;
    auto p = peak->load();
    while (n > p && !peak->compare_exchange_weak(p, n)) {
      // retry
    }
    auto r = co_await actorflow::ask<int>(whom, 30s, x);
    --*now;
    if (!r)
      throw std::runtime_error("ask failed: "
                               + actorflow::to_string_any(r.error()));
    co_return *r;
  }
};

std::vector<int> times3(int n) {
  std::vector<int> xs(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    xs[static_cast<size_t>(i)] = i * 3;
  return xs;
}

} // namespace

BOOST_AUTO_TEST_SUITE(concurrency)

//! Contract: then(f, {.concurrency = k}) with a coroutine f keeps k calls in
//! flight in the one stage actor and still emits in input order. The actor
//! behind f answers only once it holds k requests, newest first: the run
//! finishes only if k calls are in flight at once, and never more than k are
//! (f's own count).
BOOST_FIXTURE_TEST_CASE(then_keeps_k_asks_in_flight_in_order, system_fixture,
                        *utf::label("concurrency") * utf::label("ask")) {
  for (size_t k : {1u, 2u, 5u, 16u}) {
    BOOST_TEST_CONTEXT("k " << k) {
      auto w = sys.spawn(withholder_impl, k);
      counting_ask f{w};
      auto n = static_cast<int>(40 * k);
      auto got = value_of(run_bounded(
        actorflow::iota(0, n).then(f, {.concurrency = k}).collect(), sys));
      BOOST_TEST(got == times3(n));
      BOOST_TEST(peak_of(sys, w) == k);
      BOOST_TEST(static_cast<size_t>(f.peak->load()) == k);
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    }
  }
}

//! Contract: the same holds for each worker of parallel_then (one worker:
//! deterministic with the withholding actor) and of route_by_key; with two
//! workers and an actor that answers at once, the order holds and at most
//! workers * k calls are in flight.
BOOST_FIXTURE_TEST_CASE(parallel_workers_keep_k_asks_in_flight, system_fixture,
                        *utf::label("concurrency") * utf::label("ask")) {
  constexpr size_t k = 4;
  constexpr int n = 200;
  for (bool ordered : {true, false}) {
    BOOST_TEST_CONTEXT("ordered " << ordered) {
      auto w = sys.spawn(withholder_impl, k);
      counting_ask f{w};
      auto fl = actorflow::iota(0, n);
      auto got = value_of(run_bounded(
        ordered
          ? std::move(fl).parallel_then(1, f, {.concurrency = k}).collect()
          : std::move(fl)
              .parallel_then_unordered(1, f, {.concurrency = k})
              .collect(),
        sys));
      if (ordered)
        BOOST_TEST(got == times3(n));
      else
        BOOST_TEST(sorted(got) == times3(n));
      BOOST_TEST(peak_of(sys, w) == k);
      BOOST_TEST(static_cast<size_t>(f.peak->load()) == k);
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    }
  }
  { // route_by_key, one worker
    auto w = sys.spawn(withholder_impl, k);
    counting_ask f{w};
    auto got = value_of(run_bounded(
      actorflow::iota(0, n)
        .route_by_key(1, [](int x) { return x % 3; }, f, {.concurrency = k})
        .collect(),
      sys));
    BOOST_TEST(got == times3(n));
    BOOST_TEST(peak_of(sys, w) == k);
    caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  }
  { // two workers, replies at once
    auto tripler = sys.spawn(tripler_impl);
    counting_ask f{tripler};
    auto got = value_of(run_bounded(actorflow::iota(0, 2000)
                                      .parallel_then(2, f, {.concurrency = k})
                                      .collect(),
                                    sys));
    BOOST_TEST(got == times3(2000));
    BOOST_TEST(f.peak->load() <= static_cast<int>(2 * k));
    counting_ask g{tripler};
    auto got2 = value_of(run_bounded(
      actorflow::iota(0, 2000)
        .route_by_key(2, [](int x) { return x % 5; }, g, {.concurrency = k})
        .collect(),
      sys));
    BOOST_TEST(sorted(got2) == times3(2000));
    // Per key, the input order holds.
    for (int key = 0; key < 5; ++key) {
      std::vector<int> of_key;
      for (auto y : got2)
        if ((y / 3) % 5 == key)
          of_key.push_back(y);
      BOOST_TEST(std::is_sorted(of_key.begin(), of_key.end()));
    }
    BOOST_TEST(g.peak->load() <= static_cast<int>(2 * k));
  }
}

//! Contract: a failure among concurrent calls is reported in input order
//! (the lowest failing index, deterministically) after the calls in flight
//! finished; skip drops failing items like without concurrency (sequential
//! reference); a stage that stops early (take) while calls are in flight
//! ends cleanly.
BOOST_FIXTURE_TEST_CASE(concurrent_failures_and_early_end, system_fixture,
                        *utf::label("concurrency") * utf::label("errors")) {
  auto tripler = sys.spawn(tripler_impl);
  auto f = [tripler](int x) -> task<int> {
    auto r = co_await actorflow::ask<int>(tripler, 30s, x);
    if (!r || x % 10 == 7)
      throw std::runtime_error("no " + std::to_string(x));
    co_return *r;
  };
  for (int round = 0; round < 5; ++round) {
    auto err = error_of(run_bounded(
      actorflow::iota(0, 100).then(f, {.concurrency = 8}).collect(), sys));
    BOOST_TEST(text(err) == "worker 'then#2' threw: item 7: no 7");
  }
  std::vector<int> want;
  for (int i = 0; i < 500; ++i)
    if (i % 10 != 7)
      want.push_back(i * 3);
  auto got = value_of(run_bounded(
    actorflow::iota(0, 500)
      .then(f, {.concurrency = 8, .on_error = actorflow::error_policy::skip()})
      .collect(),
    sys));
  BOOST_TEST(got == want);
  auto ask3 = [tripler](int x) -> task<int> {
    auto r = co_await actorflow::ask<int>(tripler, 30s, x);
    co_return r ? *r : -1;
  };
  for (int round = 0; round < 20; ++round) {
    auto first = value_of(run_bounded(
      actorflow::iota(0).then(ask3, {.concurrency = 8}).take(3).collect(),
      sys));
    BOOST_TEST(first == (std::vector<int>{0, 3, 6}));
  }
}

//! Contract: concurrency > 1 is an invalid_argument for a synchronous f
//! (then, parallel_then, route_by_key) and for operators that do not take it.
BOOST_FIXTURE_TEST_CASE(concurrency_needs_a_coroutine, system_fixture,
                        *utf::label("concurrency") * utf::label("errors")) {
  auto id = [](int x) {
    return x;
  };
  auto e1 = error_of(
    actorflow::iota(0, 3).then(id, {.concurrency = 2}).collect().run(sys));
  BOOST_TEST(has_code(e1, error_code::invalid_argument));
  BOOST_TEST(actorflow_test::contains(text(e1), "needs a coroutine"), text(e1));
  auto e2 = error_of(actorflow::iota(0, 3)
                       .parallel_then(2, id, {.concurrency = 2})
                       .collect()
                       .run(sys));
  BOOST_TEST(has_code(e2, error_code::invalid_argument));
  auto e3 = error_of(
    actorflow::iota(0, 3)
      .route_by_key(2, [](int x) { return x; }, id, {.concurrency = 2})
      .collect()
      .run(sys));
  BOOST_TEST(has_code(e3, error_code::invalid_argument));
  auto e4 = error_of(actorflow::iota(0, 3)
                       .filter([](int) { return true; }, {.concurrency = 2})
                       .collect()
                       .run(sys));
  BOOST_TEST(has_code(e4, error_code::invalid_argument));
  BOOST_TEST(actorflow_test::contains(text(e4), "filter: "), text(e4));
  auto e5 = error_of(
    actorflow::iota(0, 3)
      .fold(0, [](int& a, int x) { return a + x; }, {.concurrency = 2})
      .run(sys));
  BOOST_TEST(has_code(e5, error_code::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()
