// The time operators on a virtual clock that each test advances by hand: no
// sleep decides an outcome. One case runs on the steady clock, to show that
// the production clock delivers too.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "support/flow_support.hpp"

using namespace actorflow_test;
using namespace std::chrono_literals;
namespace utf = boost::unit_test;

namespace {

using ints = std::vector<int>;

/// Run options with the clock `vc`.
actorflow::run_options on(std::shared_ptr<actorflow::virtual_clock> vc) {
  actorflow::run_options ro;
  ro.clock = std::move(vc);
  return ro;
}

/// A run of `from(in).batch(k, max_delay).to(out)` whose both ends the test
/// holds, on the virtual clock `vc`.
struct timed_batch {
  std::shared_ptr<actorflow::virtual_clock> vc
    = std::make_shared<actorflow::virtual_clock>();
  actorflow::sender<int> in;
  actorflow::receiver<ints> out;
  std::optional<actorflow::running<caf::unit_t>> run;

  timed_batch(caf::actor_system& sys, size_t k,
              actorflow::clock::duration max_delay) {
    auto a = actorflow::channel<int>(sys, 64);
    auto b = actorflow::channel<ints>(sys, 64);
    BOOST_REQUIRE(a && b);
    in = std::move(a->tx);
    out = std::move(b->rx);
    run.emplace(actorflow::from(std::move(a->rx))
                  .batch(k, max_delay)
                  .to(std::move(b->tx))
                  .start(sys, on(vc)));
  }

  /// Items the batch stage took so far.
  uint64_t taken() const {
    for (auto& s : run->stats().stages)
      if (s.name.rfind("batch", 0) == 0)
        return s.items_in;
    return 0;
  }

  /// Waits (bounded) until the stage took `n` items in all.
  void await_taken(uint64_t n) const {
    BOOST_REQUIRE_MESSAGE(eventually([&] { return taken() >= n; }),
                          "the batch stage took " << taken() << " of " << n
                                                  << " items within 5 s");
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(batch_with_max_delay, system_fixture)

//! Contract: full batches leave without waiting for the clock, and the end
//! of the stream flushes the last partial batch.
BOOST_AUTO_TEST_CASE(full_batches_leave_at_once, *utf::label("operators")) {
  auto vc = std::make_shared<actorflow::virtual_clock>();
  auto res = actorflow::iota(0, 10).batch(4, 1h).collect().run(sys, on(vc));
  BOOST_REQUIRE(res);
  std::vector<ints> want{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}};
  BOOST_TEST((*res == want));
  BOOST_TEST(vc->pending() <= 3u, "stale timers only, none fired");
}

//! Contract: a partly filled batch leaves once max_delay passed since its
//! first item, not a moment earlier, and the next item starts a new batch
//! with a deadline of its own.
BOOST_AUTO_TEST_CASE(a_partial_batch_leaves_when_its_time_comes,
                     *utf::label("operators")) {
  timed_batch t{sys, 100, 50ms};
  BOOST_REQUIRE(t.in.blocking_send(1));
  BOOST_REQUIRE(t.vc->await_scheduled(1, 5000ms)); // armed by item 1
  BOOST_REQUIRE(t.in.blocking_send(2));
  t.await_taken(2);
  t.vc->advance(49ms);
  BOOST_TEST(t.vc->pending() == 1u, "the deadline fired 1 ms early");
  t.vc->advance(1ms);
  BOOST_TEST((t.out.blocking_recv() == ints{1, 2}));
  // A new batch, a new deadline: 50 ms after item 3, not after item 1.
  BOOST_REQUIRE(t.in.blocking_send(3));
  BOOST_REQUIRE(t.vc->await_scheduled(2, 5000ms));
  t.vc->advance(50ms);
  BOOST_TEST((t.out.blocking_recv() == ints{3}));
  t.in.close();
  BOOST_TEST(!t.out.blocking_recv(), "end of stream");
  BOOST_TEST(static_cast<bool>(t.run->wait()));
}

//! Contract: a batch that fills up before its deadline leaves full, and the
//! deadline of that batch does not cut the next one short.
BOOST_AUTO_TEST_CASE(a_full_batch_cancels_its_deadline,
                     *utf::label("operators")) {
  timed_batch t{sys, 2, 50ms};
  BOOST_REQUIRE(t.in.blocking_send(1));
  BOOST_REQUIRE(t.vc->await_scheduled(1, 5000ms));
  BOOST_REQUIRE(t.in.blocking_send(2));
  BOOST_TEST((t.out.blocking_recv() == ints{1, 2}));
  t.vc->advance(30ms);
  BOOST_REQUIRE(t.in.blocking_send(3));
  BOOST_REQUIRE(t.vc->await_scheduled(2, 5000ms)); // armed by item 3
  // The first batch's deadline (50 ms) passes: item 3 stays.
  t.vc->advance(20ms);
  BOOST_TEST(t.vc->pending() == 1u);
  BOOST_REQUIRE(t.in.blocking_send(4));
  BOOST_TEST((t.out.blocking_recv() == ints{3, 4}));
  t.in.close();
  BOOST_TEST(!t.out.blocking_recv(), "end of stream");
  BOOST_TEST(static_cast<bool>(t.run->wait()));
}

//! Contract: with the steady clock (the default), a partial batch leaves
//! after its delay while the stream stays open.
BOOST_AUTO_TEST_CASE(the_steady_clock_delivers, *utf::label("operators")) {
  auto a = actorflow::channel<int>(sys, 8);
  auto b = actorflow::channel<ints>(sys, 8);
  BOOST_REQUIRE(a && b);
  auto run = actorflow::from(std::move(a->rx))
               .batch(100, 5ms)
               .to(std::move(b->tx))
               .start(sys);
  BOOST_REQUIRE(a->tx.blocking_send(7));
  BOOST_TEST((b->rx.blocking_recv() == ints{7}));
  a->tx.close();
  BOOST_TEST(!b->rx.blocking_recv(), "end of stream");
  BOOST_TEST(static_cast<bool>(run.wait()));
}

//! Contract: a batch of 0 items and a delay of zero or less are clear
//! errors, not a hang or an empty result.
BOOST_AUTO_TEST_CASE(bad_arguments_are_errors, *utf::label("errors")) {
  auto check = [&](actorflow::flow<ints> f, const std::string& what) {
    auto res = std::move(f).collect().run(sys);
    BOOST_REQUIRE(!res);
    BOOST_TEST(has_code(res.error(), actorflow::error_code::invalid_argument));
    BOOST_TEST(contains(actorflow::what(res.error()), what),
               actorflow::what(res.error()));
  };
  check(actorflow::iota(0, 10).batch(0, 10ms), "at least one item");
  check(actorflow::iota(0, 10).batch(3, 0ms), "max_delay must be positive");
  check(actorflow::iota(0, 10).batch(3, -5ms), "max_delay must be positive");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(throttle, system_fixture)

//! Contract: after a burst of `burst` items, one item passes per `per / n`
//! of the clock, no earlier; the stream ends when its input ends.
BOOST_AUTO_TEST_CASE(items_pass_at_the_rate_after_a_burst,
                     *utf::label("operators")) {
  auto vc = std::make_shared<actorflow::virtual_clock>();
  auto a = actorflow::channel<int>(sys, 64);
  auto b = actorflow::channel<int>(sys, 64);
  BOOST_REQUIRE(a && b);
  auto run = actorflow::from(std::move(a->rx))
               .throttle(2, 1s) // one per 500 ms, bursts of 2
               .to(std::move(b->tx))
               .start(sys, on(vc));
  for (int i = 0; i < 5; ++i)
    BOOST_REQUIRE(a->tx.blocking_send(i));
  a->tx.close();
  // The burst: two items without the clock moving.
  BOOST_TEST((b->rx.blocking_recv() == std::optional<int>{0}));
  BOOST_TEST((b->rx.blocking_recv() == std::optional<int>{1}));
  for (int i = 2; i < 5; ++i) {
    // Item i waits for its token: the stage armed a timer for it.
    BOOST_REQUIRE(vc->await_scheduled(static_cast<size_t>(i - 1), 5000ms));
    vc->advance(499ms);
    BOOST_TEST(vc->pending() == 1u, "item " << i << " passed 1 ms early");
    vc->advance(1ms);
    BOOST_TEST((b->rx.blocking_recv() == std::optional<int>{i}));
  }
  BOOST_TEST(!b->rx.blocking_recv(), "end of stream");
  BOOST_TEST(static_cast<bool>(run.wait()));
  BOOST_TEST(vc->scheduled() == 3u, "one timer per item past the burst");
}

//! Contract: an n of 0 and a period of zero or less are clear errors.
BOOST_AUTO_TEST_CASE(bad_arguments_are_errors, *utf::label("errors")) {
  for (auto f : {actorflow::iota(0, 10).throttle(0, 1s),
                 actorflow::iota(0, 10).throttle(5, 0s),
                 actorflow::iota(0, 10).throttle(5, -1s)}) {
    auto res = std::move(f).collect().run(sys);
    BOOST_REQUIRE(!res);
    BOOST_TEST(has_code(res.error(), actorflow::error_code::invalid_argument));
    BOOST_TEST(contains(actorflow::what(res.error()), "throttle("),
               actorflow::what(res.error()));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(interval, system_fixture)

//! Contract: interval(d) emits 0, 1, 2, ... one per d of the clock, the first
//! after one d, and take(n) ends it.
BOOST_AUTO_TEST_CASE(ticks_once_per_period, *utf::label("operators")) {
  auto vc = std::make_shared<actorflow::virtual_clock>();
  auto run = actorflow::interval(10ms).take(3).collect().start(sys, on(vc));
  for (size_t i = 1; i <= 3; ++i) {
    BOOST_REQUIRE(vc->await_scheduled(i, 5000ms));
    vc->advance(9ms);
    BOOST_TEST(vc->pending() == 1u, "tick " << i << " came 1 ms early");
    vc->advance(1ms);
  }
  auto res = run.wait();
  BOOST_REQUIRE(res);
  BOOST_TEST((*res == std::vector<uint64_t>{0, 1, 2}));
}

//! Contract: a period of zero or less is a clear error.
BOOST_AUTO_TEST_CASE(bad_period_is_an_error, *utf::label("errors")) {
  auto res = actorflow::interval(0ms).take(3).collect().run(sys);
  BOOST_REQUIRE(!res);
  BOOST_TEST(has_code(res.error(), actorflow::error_code::invalid_argument));
  BOOST_TEST(contains(actorflow::what(res.error()), "interval(period)"));
}

BOOST_AUTO_TEST_SUITE_END()
