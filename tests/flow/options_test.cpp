// Stage options of the stream DSL (actorflow/flow.hpp): the default worker
// count of the parallel stages, window and read_ahead as stage_options,
// channel_options::read_ahead, and parallel options where they do not
// apply.

#include <cstdint>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actorflow/ask.hpp"
#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

// -- stage options ----------------------------------------------------------------

namespace {

struct gate_state {
  std::set<caf::actor_addr> senders;
  std::vector<std::pair<int, caf::typed_response_promise<int>>> held;
  bool open = false;
};

/// Replies x to every request, but only once requests from `expect`
/// different actors arrived (until then it holds them all back); counts the
/// actors that ever asked. A stage with fewer than `expect` workers makes it
/// wait forever (run_bounded reports the hang).
caf::behavior gate_impl(caf::stateful_actor<gate_state>* self, size_t expect) {
  return {
    [self, expect](int x) -> caf::result<int> {
      auto& st = self->state;
      st.senders.insert(
        caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (st.open)
        return x;
      auto rp = self->make_response_promise<int>();
      st.held.emplace_back(x, rp);
      if (st.senders.size() >= expect) {
        st.open = true;
        for (auto& [y, p] : st.held)
          p.deliver(y);
        st.held.clear();
      }
      return rp;
    },
    [self](caf::get_atom) { return self->state.senders.size(); },
  };
}

struct holder_state {
  std::optional<std::pair<int, caf::typed_response_promise<int>>> held;
  size_t answered = 0;
};

/// Holds the first request back and replies x to every other one at once;
/// replies to the held one after `release_after` others.
caf::behavior holder_impl(caf::stateful_actor<holder_state>* self,
                          size_t release_after) {
  return {
    [self, release_after](int x) -> caf::result<int> {
      auto& st = self->state;
      if (!st.held && st.answered == 0) {
        auto rp = self->make_response_promise<int>();
        st.held.emplace(x, rp);
        return rp;
      }
      if (++st.answered == release_after && st.held) {
        st.held->second.deliver(st.held->first);
        st.held.reset();
      }
      return x;
    },
  };
}

/// How many different actors asked `gate`.
size_t askers_of(caf::actor_system& sys, const caf::actor& gate) {
  return peak_of(sys, gate); // same protocol: (get_atom) -> size_t
}

/// Stops an actor when it leaves scope, also by a failed check's exception,
/// so that the system can shut down.
struct stop_at_exit {
  caf::actor whom;
  ~stop_at_exit() {
    caf::anon_send_exit(whom, caf::exit_reason::user_shutdown);
  }
};

/// A stage function that asks `whom` for its item (and fails if no reply).
auto asking(caf::actor whom) {
  return [whom](int x) -> task<int> {
    auto r = co_await actorflow::ask<int>(whom, 30s, x);
    if (!r)
      throw std::runtime_error("ask: " + actorflow::to_string_any(r.error()));
    co_return *r;
  };
}

} // namespace

BOOST_AUTO_TEST_SUITE(options)

//! Contract: parallel_then(f), parallel_then_unordered(f) and
//! route_by_key(key, f) without a worker count spawn one worker per
//! scheduler thread (the fixture's system has 2); stage_options::workers
//! picks another count; an explicit n == 0 stays invalid_argument. Seen from
//! outside: the actor that f asks holds every reply until `expect` workers
//! asked, and counts the askers.
BOOST_FIXTURE_TEST_CASE(worker_count_defaults_to_scheduler_threads,
                        system_fixture, *utf::label("options")) {
  auto threads = sys.scheduler().num_workers();
  BOOST_TEST_REQUIRE(threads == 2u);
  constexpr int n = 400;
  std::vector<int> want(n);
  std::iota(want.begin(), want.end(), 0);
  auto run_with = [&](size_t expect, auto make) {
    auto gate = sys.spawn(gate_impl, expect);
    stop_at_exit stop{gate};
    auto got = value_of(run_bounded(make(asking(gate)), sys));
    auto askers = askers_of(sys, gate);
    return std::make_pair(sorted(got), askers);
  };
  auto [a, na] = run_with(threads, [](auto f) {
    return actorflow::iota(0, n).parallel_then(f).collect();
  });
  BOOST_TEST(a == want);
  BOOST_TEST(na == threads);
  auto [b, nb] = run_with(threads, [](auto f) {
    return actorflow::iota(0, n).parallel_then_unordered(f).collect();
  });
  BOOST_TEST(b == want);
  BOOST_TEST(nb == threads);
  auto [c, nc] = run_with(threads, [](auto f) {
    return actorflow::iota(0, n)
      .route_by_key([](int x) { return x % 16; }, f)
      .collect();
  });
  BOOST_TEST(c == want);
  BOOST_TEST(nc == threads);
  auto [d, nd] = run_with(3, [](auto f) {
    return actorflow::iota(0, n).parallel_then(f, {.workers = 3}).collect();
  });
  BOOST_TEST(d == want);
  BOOST_TEST(nd == 3u);
  // An explicit n wins over stage_options::workers.
  auto [e, ne] = run_with(1, [](auto f) {
    return actorflow::iota(0, n).parallel_then(1, f, {.workers = 3}).collect();
  });
  BOOST_TEST(e == want);
  BOOST_TEST(ne == 1u);
  auto err
    = error_of(actorflow::iota(0, 3)
                 .parallel_then(0, [](int x) { return x; }, {.workers = 2})
                 .collect()
                 .run(sys));
  BOOST_TEST(has_code(err, error_code::invalid_argument));
}

//! Contract: a worker whose call waits for a reply does not sit on the items
//! another worker could run: the adaptive read-ahead never grows while a
//! call waits on something else than the stage's channels (an ask), so the
//! worker holds at most its starting read-ahead (4 items). Instrument: the
//! actor that f asks holds the first request until it answered all but 16
//! of the other items, which only the other worker can ask for.
BOOST_FIXTURE_TEST_CASE(a_waiting_worker_leaves_items_to_the_others,
                        system_fixture, *utf::label("options")) {
  constexpr int n = 400;
  std::vector<int> want(n);
  std::iota(want.begin(), want.end(), 0);
  auto holder = sys.spawn(holder_impl, size_t{n - 16});
  stop_at_exit stop{holder};
  auto got = value_of(run_bounded(
    actorflow::iota(0, n).parallel_then_unordered(2, asking(holder)).collect(),
    sys));
  BOOST_TEST(sorted(got) == want);
}

//! Contract: stage_options::window bounds the items between dispatch and
//! gather like the window argument (same instrument as
//! parallel_then_reorder_buffer_is_bounded), and the options reach the
//! workers: read_ahead 1 per worker, and any window >= 1, still give the
//! sequential result.
BOOST_FIXTURE_TEST_CASE(window_and_read_ahead_options, system_fixture,
                        *utf::label("options") * utf::label("order")) {
  constexpr size_t window = 8;
  auto bounded = started_while_head_is_slow(sys, 4, window, 200, window, true);
  BOOST_TEST(bounded <= window);
  auto unbounded = started_while_head_is_slow(sys, 4, 1024, 2000, window, true);
  BOOST_TEST(unbounded > window);
  std::vector<int> want(1000);
  std::iota(want.begin(), want.end(), 1);
  for (uint32_t ahead : {1u, 3u, 64u}) {
    for (size_t w : {1u, 5u, 0u}) {
      BOOST_TEST_CONTEXT("read_ahead " << ahead << ", window " << w) {
        auto got = value_of(
          run_bounded(actorflow::iota(0, 1000)
                        .parallel_then(3, [](int x) { return x + 1; },
                                       {.read_ahead = ahead, .window = w})
                        .collect(),
                      sys));
        BOOST_TEST(got == want);
        auto got_k = value_of(
          run_bounded(actorflow::iota(0, 1000)
                        .route_by_key(
                          3, [](int x) { return x % 7; },
                          [](int x) { return x + 1; }, {.read_ahead = ahead})
                        .collect(),
                      sys));
        BOOST_TEST(sorted(got_k) == want);
      }
    }
  }
}

//! Contract: channel_options::read_ahead is how many items a receiver asks
//! for ahead of its recv calls: a thread that took one item and then waits
//! holds at most 1 + read_ahead delivered items, while the default (two
//! batches, at most half the capacity: 32 here) lets it hold 32. A
//! read-ahead above the capacity is invalid_argument, also from
//! stage_options (so the option reaches the stage's channel).
BOOST_FIXTURE_TEST_CASE(read_ahead_bounds_what_a_receiver_holds, system_fixture,
                        *utf::label("options")) {
  for (uint32_t ahead : {4u, 0u}) {
    BOOST_TEST_CONTEXT("read_ahead " << ahead) {
      auto ch = actorflow::channel<int>(
        sys, 64, actorflow::channel_options{.read_ahead = ahead});
      BOOST_TEST_REQUIRE(static_cast<bool>(ch));
      auto [tx, rx] = std::move(*ch);
      for (int i = 0; i < 64; ++i)
        BOOST_TEST_REQUIRE(static_cast<bool>(tx.blocking_send(i)));
      auto first = rx.blocking_recv();
      BOOST_TEST_REQUIRE(first.has_value());
      BOOST_TEST(*first == 0);
      uint64_t expect = ahead != 0 ? ahead : 32;
      BOOST_TEST(actorflow_test::eventually(
        [&] { return rx.metrics().delivered >= expect; }));
      BOOST_TEST(rx.metrics().delivered <= expect + 1);
      tx.close();
      rx.close();
    }
  }
  auto bad = actorflow::channel<int>(
    sys, 8, actorflow::channel_options{.read_ahead = 9});
  BOOST_TEST_REQUIRE(!bad);
  BOOST_TEST(has_code(bad.error(), error_code::invalid_argument));
  auto err = error_of(
    actorflow::iota(0, 10)
      .then([](int x) { return x; }, {.capacity = 8, .read_ahead = 9})
      .collect()
      .run(sys));
  BOOST_TEST(has_code(err, error_code::invalid_argument));
  BOOST_TEST(actorflow_test::contains(text(err), "read-ahead 9 exceeds"),
             text(err));
}

//! Contract: workers and window apply only to the parallel stages; anywhere
//! else they are invalid_argument naming the operator.
BOOST_FIXTURE_TEST_CASE(parallel_options_elsewhere_are_errors, system_fixture,
                        *utf::label("options") * utf::label("errors")) {
  auto e1 = error_of(actorflow::iota(0, 3)
                       .then([](int x) { return x; }, {.workers = 2})
                       .collect()
                       .run(sys));
  BOOST_TEST(has_code(e1, error_code::invalid_argument));
  BOOST_TEST(actorflow_test::contains(text(e1), "then: "), text(e1));
  auto e2
    = error_of(actorflow::iota(0, 3).take(2, {.window = 4}).collect().run(sys));
  BOOST_TEST(has_code(e2, error_code::invalid_argument));
  auto e3 = error_of(actorflow::iota(0, 3).collect({.workers = 2}).run(sys));
  BOOST_TEST(has_code(e3, error_code::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()
