// The time operators on a virtual clock that each test advances by hand: no
// sleep decides an outcome. One case runs on the steady clock, to show that
// the production clock delivers too.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
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

/// A run of `from(in)`, then the operator that `op` adds, then `to(out)`,
/// whose both ends the test holds, on the virtual clock `vc`.
template <class In, class Out>
struct timed_run {
  std::shared_ptr<actorflow::virtual_clock> vc
    = std::make_shared<actorflow::virtual_clock>();
  actorflow::sender<In> in;
  actorflow::receiver<Out> out;
  std::optional<actorflow::running<caf::unit_t>> run;
  std::string stage; // the operator's stage, by the start of its name

  template <class Op>
  timed_run(caf::actor_system& sys, std::string stage_name, Op op)
    : stage(std::move(stage_name)) {
    auto a = actorflow::channel<In>(sys, 64);
    auto b = actorflow::channel<Out>(sys, 64);
    BOOST_REQUIRE(a && b);
    in = std::move(a->tx);
    out = std::move(b->rx);
    run.emplace(op(actorflow::from(std::move(a->rx)))
                  .to(std::move(b->tx))
                  .start(sys, on(vc)));
  }

  /// Items the operator's stage took so far.
  uint64_t taken() const {
    for (auto& s : run->stats().stages)
      if (s.name.rfind(stage, 0) == 0)
        return s.items_in;
    return 0;
  }

  /// Waits (bounded) until the stage took `n` items in all.
  void await_taken(uint64_t n) const {
    BOOST_REQUIRE_MESSAGE(eventually([&] { return taken() >= n; }),
                          "the " << stage << " stage took " << taken() << " of "
                                 << n << " items within 5 s");
  }

  /// Sends `x` and waits until the stage took it (so that it came at the
  /// clock's current time).
  void put(In x) {
    auto before = taken();
    BOOST_REQUIRE(in.blocking_send(std::move(x)));
    await_taken(before + 1);
  }

  /// Closes the input, expects `last` and then the end of the output (the
  /// end of the stream sends what the stage held), and a clean end.
  void finish_after(const Out& last) {
    in.close();
    finish_after_close(last);
  }

  /// As `finish_after`, once the input is closed.
  void finish_after_close(const Out& last) {
    BOOST_TEST((out.blocking_recv() == std::optional<Out>{last}));
    finish_closed();
  }

  /// Expects the end of the output after the input closed, and a clean end.
  void finish_closed() {
    BOOST_TEST(!out.blocking_recv(), "end of stream");
    BOOST_TEST(static_cast<bool>(run->wait()));
  }

  /// Closes the input, expects the end of the output and a clean end.
  void finish() {
    in.close();
    finish_closed();
  }
};

/// A run of `from(in).batch(k, max_delay).to(out)`.
struct timed_batch : timed_run<int, ints> {
  timed_batch(caf::actor_system& sys, size_t k,
              actorflow::clock::duration max_delay)
    : timed_run(sys, "batch", [k, max_delay](actorflow::flow<int> f) {
        return std::move(f).batch(k, max_delay);
      }) {
    // nop
  }
};

/// Expects `f` to fail with invalid_argument, saying `what`.
template <class T>
void expect_invalid(caf::actor_system& sys, actorflow::flow<T> f,
                    const std::string& what) {
  auto res = std::move(f).collect().run(sys);
  BOOST_REQUIRE(!res);
  BOOST_TEST(has_code(res.error(), actorflow::error_code::invalid_argument));
  BOOST_TEST(contains(actorflow::what(res.error()), what),
             actorflow::what(res.error()));
}

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
  t.finish();
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
  t.finish();
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
  expect_invalid(sys, actorflow::iota(0, 10).batch(0, 10ms),
                 "at least one item");
  expect_invalid(sys, actorflow::iota(0, 10).batch(3, 0ms),
                 "max_delay must be positive");
  expect_invalid(sys, actorflow::iota(0, 10).batch(3, -5ms),
                 "max_delay must be positive");
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
  expect_invalid(sys, actorflow::iota(0, 10).throttle(0, 1s),
                 "throttle(0, per)");
  expect_invalid(sys, actorflow::iota(0, 10).throttle(5, 0s),
                 "throttle(n, per): per must be positive");
  expect_invalid(sys, actorflow::iota(0, 10).throttle(5, -1s),
                 "throttle(n, per): per must be positive");
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
  expect_invalid(sys, actorflow::interval(0ms).take(3),
                 "interval(period): period must be positive");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(windows, system_fixture)

//! Contract: tumbling(d) sends the items of each window of d (windows back
//! to back from the stage's start) when the window ends, not a moment
//! earlier; a window without items sends nothing; the end of the stream
//! closes the last window early.
BOOST_AUTO_TEST_CASE(tumbling_windows_follow_each_other,
                     *utf::label("operators")) {
  timed_run<int, ints> t{sys, "tumbling", [](actorflow::flow<int> f) {
                           return std::move(f).tumbling(100ms);
                         }};
  t.put(1); // window [0, 100)
  t.vc->advance(60ms);
  t.put(2);
  t.vc->advance(39ms);
  BOOST_TEST(t.vc->pending() == 1u, "the window closed 1 ms early");
  t.vc->advance(1ms);
  BOOST_TEST((t.out.blocking_recv() == ints{1, 2}));
  t.vc->advance(150ms); // [100, 200) holds nothing and sends nothing
  t.put(3);             // at 250: window [200, 300)
  BOOST_TEST(t.vc->scheduled() == 2u);
  t.vc->advance(49ms);
  BOOST_TEST(t.vc->pending() == 1u);
  t.vc->advance(1ms);
  BOOST_TEST((t.out.blocking_recv() == ints{3}));
  t.put(4);
  t.put(5);
  t.finish_after(ints{4, 5});
}

//! Contract: sliding(d, step) sends, every step, the items of the last d;
//! an item is in d / step windows, and windows without items send nothing.
BOOST_AUTO_TEST_CASE(sliding_windows_overlap, *utf::label("operators")) {
  timed_run<int, ints> t{sys, "sliding", [](actorflow::flow<int> f) {
                           return std::move(f).sliding(100ms, 50ms);
                         }};
  t.put(1); // at 0: in the windows ending at 50 and 100
  t.vc->advance(49ms);
  BOOST_TEST(t.vc->pending() == 1u, "the window closed 1 ms early");
  t.vc->advance(1ms);
  BOOST_TEST((t.out.blocking_recv() == ints{1}));
  t.put(2); // at 50: in the windows ending at 100 and 150
  t.vc->advance(50ms);
  BOOST_TEST((t.out.blocking_recv() == ints{1, 2}));
  t.vc->advance(50ms);
  BOOST_TEST((t.out.blocking_recv() == ints{2}));
  t.vc->advance(500ms); // nothing held: nothing sent, no timer
  BOOST_TEST(t.vc->pending() == 0u);
  t.put(3); // at 650: in the windows ending at 700 and 750, which the end
            // of the stream closes early
  t.in.close();
  BOOST_TEST((t.out.blocking_recv() == ints{3}));
  t.finish_after_close(ints{3});
}

//! Contract: event_tumbling(d, time_of, lateness, on_late) puts each item
//! into the window of its own time, sends a window once the watermark
//! (latest time seen - lateness) passed its end, in order, hands late items
//! to on_late, and sends the open windows at the end of the stream.
BOOST_AUTO_TEST_CASE(event_time_windows_follow_the_watermark,
                     *utf::label("operators")) {
  using ev = std::pair<int, int64_t>; // (value, time in ms)
  using window = actorflow::event_window<ev>;
  auto late = std::make_shared<std::vector<ev>>();
  // Times 5, 12, 3, 25, 7, 40 with windows of 10 ms and 5 ms of lateness:
  // 3 still lands in [0, 10) (the watermark is 7 then), 25 moves it to 20
  // and closes [0, 10) and [10, 20), so 7 is late.
  std::vector<ev> xs{{0, 5}, {1, 12}, {2, 3}, {3, 25}, {4, 7}, {5, 40}};
  auto res
    = actorflow::from(xs)
        .event_tumbling(
          10ms, [](const ev& x) { return std::chrono::milliseconds{x.second}; },
          5ms, [late](const ev& x) { late->push_back(x); })
        .collect()
        .run(sys);
  BOOST_REQUIRE_MESSAGE(res,
                        (res ? "" : actorflow::to_string_any(res.error())));
  std::vector<window> want{{0ms, 10ms, {{0, 5}, {2, 3}}},
                           {10ms, 20ms, {{1, 12}}},
                           {20ms, 30ms, {{3, 25}}},
                           {40ms, 50ms, {{5, 40}}}};
  BOOST_TEST((*res == want));
  BOOST_TEST((*late == std::vector<ev>{{4, 7}}));
  expect_invalid(
    sys,
    actorflow::from(xs).event_tumbling(
      0ms, [](const ev& x) { return std::chrono::milliseconds{x.second}; }),
    "event_tumbling(d, time_of): d must be positive");
  expect_invalid(
    sys,
    actorflow::from(xs).event_tumbling(
      10ms, [](const ev& x) { return std::chrono::milliseconds{x.second}; },
      -1ms),
    "lateness must not be negative");
}

//! Contract: a window of zero or less, a step of zero or less and a step
//! longer than the window are clear errors.
BOOST_AUTO_TEST_CASE(bad_arguments_are_errors, *utf::label("errors")) {
  expect_invalid(sys, actorflow::iota(0, 10).tumbling(0ms), "tumbling(d)");
  expect_invalid(sys, actorflow::iota(0, 10).sliding(-1ms, 1ms),
                 "sliding(d, step): d must be positive");
  expect_invalid(sys, actorflow::iota(0, 10).sliding(10ms, 0ms),
                 "sliding(d, step): step must be positive");
  expect_invalid(sys, actorflow::iota(0, 10).sliding(10ms, 20ms),
                 "would drop the items between the windows");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(keyed_windows, system_fixture)

namespace {

using ev = std::pair<int, int64_t>; // (key, time in ms)
using kwin = actorflow::keyed_window<int, ev>;

std::chrono::nanoseconds time_of_ev(const ev& x) {
  return std::chrono::milliseconds{x.second};
}

/// Windows ordered by key, then start (the workers interleave their keys).
std::vector<kwin> by_key(std::vector<kwin> xs) {
  std::stable_sort(xs.begin(), xs.end(), [](const kwin& a, const kwin& b) {
    return std::tie(a.key, a.start) < std::tie(b.key, b.start);
  });
  return xs;
}

/// The sequential reference of key_by(key).event_tumbling(d, time_of,
/// lateness): the watermark of the whole stream (latest time - lateness)
/// decides which items are late; the others land in (key, window).
std::pair<std::vector<kwin>, std::vector<ev>> reference_windows(
  const std::vector<ev>& xs, std::chrono::milliseconds d,
  std::chrono::milliseconds lateness) {
  std::map<std::pair<int, int64_t>, std::vector<ev>> windows;
  std::vector<ev> late;
  std::optional<int64_t> latest;
  for (auto& x : xs) {
    auto index = x.second >= 0 ? x.second / d.count()
                               : (x.second - d.count() + 1) / d.count();
    auto end = (index + 1) * d.count();
    if (latest && end <= *latest - lateness.count()) {
      late.push_back(x);
      continue;
    }
    latest = std::max(latest.value_or(x.second), x.second);
    windows[{x.first, index}].push_back(x);
  }
  std::vector<kwin> result;
  for (auto& [at, items] : windows)
    result.push_back(
      kwin{at.first, at.second * d, (at.second + 1) * d, std::move(items)});
  return {std::move(result), std::move(late)};
}

} // namespace

//! Contract: key_by(n, key).event_tumbling(d, time_of, lateness, on_late)
//! gives every key its own windows, equal to a sequential reference for
//! any number of workers: the watermark of the whole stream decides which
//! items are late (they go to on_late), and each key's windows leave in
//! order of start.
BOOST_AUTO_TEST_CASE(event_time_windows_per_key_match_a_reference,
                     *utf::label("operators")) {
  // 3000 items of 7 keys, times rising by 0-3 ms, every 10th item up to
  // 40 ms in the past: windows of 25 ms, lateness 10 ms, so some are late.
  std::vector<ev> xs;
  int64_t now = 0;
  for (int i = 0; i < 3000; ++i) {
    now += (i * 7919) % 4;
    auto t = i % 10 == 9 ? now - (i * 31) % 41 : now;
    xs.emplace_back((i * 13) % 7, t);
  }
  auto [want, want_late] = reference_windows(xs, 25ms, 10ms);
  BOOST_REQUIRE(!want_late.empty());
  for (size_t n : {1u, 2u, 4u}) {
    BOOST_TEST_CONTEXT("workers: " << n) {
      auto late = std::make_shared<std::vector<ev>>();
      auto res = actorflow::from(xs)
                   .key_by(n, [](const ev& x) { return x.first; })
                   .event_tumbling(25ms, time_of_ev, 10ms,
                                   [late](const ev& x) { late->push_back(x); })
                   .collect()
                   .run(sys);
      BOOST_REQUIRE_MESSAGE(res,
                            (res ? "" : actorflow::to_string_any(res.error())));
      // Per key, the windows came in order of start.
      std::map<int, std::chrono::nanoseconds> last;
      for (auto& w : *res) {
        if (auto i = last.find(w.key); i != last.end())
          BOOST_TEST(w.start > i->second, "key " << w.key << " out of order");
        last[w.key] = w.start;
      }
      BOOST_TEST((by_key(std::move(*res)) == want));
      BOOST_TEST((*late == want_late));
    }
  }
}

//! Contract: key_by(n, key).tumbling(d) sends, at the end of each window of
//! d on the run's clock (the same windows on every worker), one window per
//! key that had items, and nothing for a window without items; the end of
//! the stream closes the last windows early.
BOOST_AUTO_TEST_CASE(processing_time_windows_per_key,
                     *utf::label("operators")) {
  using win = actorflow::keyed_window<int, int>;
  timed_run<int, win> t{sys, "key_by.tumbling", [](actorflow::flow<int> f) {
                          return std::move(f)
                            .key_by(2, [](int x) { return x % 2; })
                            .tumbling(100ms);
                        }};
  // The workers took `n` items in all (so they came at the clock's time).
  auto workers_took = [&](uint64_t n) {
    return eventually([&] {
      uint64_t sum = 0;
      for (auto& s : t.run->stats().stages)
        if (contains(s.name, "key_by.tumbling") && contains(s.name, ".worker"))
          sum += s.items_in;
      return sum == n;
    });
  };
  auto recv2 = [&] {
    std::vector<win> ws;
    for (int i = 0; i < 2; ++i)
      if (auto w = t.out.blocking_recv())
        ws.push_back(std::move(*w));
    std::sort(ws.begin(), ws.end(),
              [](const win& a, const win& b) { return a.key < b.key; });
    return ws;
  };
  for (int x : {1, 2, 3})
    BOOST_REQUIRE(t.in.blocking_send(x));
  BOOST_REQUIRE(workers_took(3));
  t.vc->advance(60ms);
  BOOST_REQUIRE(t.in.blocking_send(4));
  BOOST_REQUIRE(workers_took(4));
  t.vc->advance(39ms);
  BOOST_TEST(t.vc->pending() == 2u, "a window closed 1 ms early");
  t.vc->advance(1ms);
  BOOST_TEST(
    (recv2()
     == std::vector<win>{{0, 0ms, 100ms, {2, 4}}, {1, 0ms, 100ms, {1, 3}}}));
  t.vc->advance(150ms); // [100, 200) holds nothing and sends nothing
  BOOST_REQUIRE(t.in.blocking_send(5)); // at 250: window [200, 300)
  BOOST_REQUIRE(workers_took(5));
  BOOST_TEST(t.vc->pending() == 1u);
  t.vc->advance(50ms);
  BOOST_TEST(
    (t.out.blocking_recv() == std::optional<win>{win{1, 200ms, 300ms, {5}}}));
  for (int x : {6, 7})
    BOOST_REQUIRE(t.in.blocking_send(x));
  t.in.close();
  BOOST_TEST(
    (recv2()
     == std::vector<win>{{0, 300ms, 400ms, {6}}, {1, 300ms, 400ms, {7}}}));
  t.finish_closed();
}

//! Contract: no workers, a window of zero or less and a negative lateness
//! are clear errors.
BOOST_AUTO_TEST_CASE(bad_arguments_are_errors, *utf::label("errors")) {
  auto key = [](int x) {
    return x % 3;
  };
  auto at = [](int x) {
    return std::chrono::milliseconds{x};
  };
  expect_invalid(sys, actorflow::iota(0, 10).key_by(0, key).tumbling(10ms),
                 "key_by(0, key): needs at least one worker");
  expect_invalid(sys, actorflow::iota(0, 10).key_by(2, key).tumbling(0ms),
                 "key_by(key).tumbling(d): d must be positive");
  expect_invalid(sys,
                 actorflow::iota(0, 10).key_by(key).event_tumbling(-1ms, at),
                 "key_by(key).event_tumbling(d, time_of): d must be positive");
  expect_invalid(
    sys, actorflow::iota(0, 10).key_by(key).event_tumbling(10ms, at, -1ms),
    "lateness must not be negative");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(rate_limits, system_fixture)

//! Contract: debounce(quiet) sends an item once quiet passed without a newer
//! one (a newer one replaces it); the end of the stream sends the last one.
BOOST_AUTO_TEST_CASE(debounce_waits_for_quiet, *utf::label("operators")) {
  timed_run<int, int> t{sys, "debounce", [](actorflow::flow<int> f) {
                          return std::move(f).debounce(50ms);
                        }};
  t.put(1);
  t.vc->advance(30ms);
  t.put(2); // replaces 1; quiet from 30 ms on
  t.vc->advance(49ms);
  BOOST_TEST(t.vc->pending() == 1u, "item 2 left 1 ms early");
  t.vc->advance(1ms);
  BOOST_TEST((t.out.blocking_recv() == std::optional<int>{2}));
  t.put(3);
  t.put(4);
  t.finish_after(4);
}

//! Contract: sample(period) sends the latest item of each period at its
//! end; a period without items sends nothing; the end of the stream sends
//! the latest one.
BOOST_AUTO_TEST_CASE(sample_sends_the_latest_per_period,
                     *utf::label("operators")) {
  timed_run<int, int> t{sys, "sample", [](actorflow::flow<int> f) {
                          return std::move(f).sample(100ms);
                        }};
  t.put(1);
  t.put(2);
  t.vc->advance(99ms);
  BOOST_TEST(t.vc->pending() == 1u, "the period ended 1 ms early");
  t.vc->advance(1ms);
  BOOST_TEST((t.out.blocking_recv() == std::optional<int>{2}));
  t.vc->advance(250ms); // periods without items
  t.put(3);             // at 350: the period [300, 400)
  BOOST_TEST(t.vc->scheduled() == 2u);
  t.vc->advance(49ms);
  BOOST_TEST(t.vc->pending() == 1u);
  t.vc->advance(1ms);
  BOOST_TEST((t.out.blocking_recv() == std::optional<int>{3}));
  t.put(4);
  t.finish_after(4);
}

//! Contract: a quiet time or period of zero or less is a clear error.
BOOST_AUTO_TEST_CASE(bad_arguments_are_errors, *utf::label("errors")) {
  expect_invalid(sys, actorflow::iota(0, 10).debounce(0ms),
                 "debounce(quiet): quiet must be positive");
  expect_invalid(sys, actorflow::iota(0, 10).sample(-3s),
                 "sample(period): period must be positive");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(timeouts, system_fixture)

namespace {

/// The identity, except that the call on item 3 takes `slow` on `vc` (it
/// moves the virtual clock on while it runs) the first `times` times.
auto slow_on_3(std::shared_ptr<actorflow::virtual_clock> vc,
               actorflow::clock::duration slow, int times = 1) {
  auto calls = std::make_shared<int>(0);
  return [vc, slow, times, calls](int x) {
    if (x == 3 && (*calls)++ < times)
      vc->advance(slow);
    return x;
  };
}

} // namespace

//! Contract: a call that takes longer than the stage's timeout fails its
//! item, naming the item and both times; under the default policy that
//! fails the pipeline.
BOOST_AUTO_TEST_CASE(a_slow_call_fails_the_pipeline, *utf::label("errors")) {
  auto vc = std::make_shared<actorflow::virtual_clock>();
  actorflow::stage_options so;
  so.timeout = 2s;
  auto res = actorflow::iota(0, 10)
               .then(slow_on_3(vc, 3s), so)
               .collect()
               .run(sys, on(vc));
  BOOST_REQUIRE(!res);
  auto what = actorflow::what(res.error());
  BOOST_TEST(contains(what, "item 3"), what);
  BOOST_TEST(contains(what, "took 3000 ms, longer than the stage's timeout "
                            "of 2000 ms"),
             what);
}

//! Contract: with skip, the late item is dropped and the rest goes on; with
//! retry, a second call within the time keeps the item; a call exactly at
//! the limit is in time.
BOOST_AUTO_TEST_CASE(skip_and_retry_apply_to_a_late_call,
                     *utf::label("errors")) {
  auto vc = std::make_shared<actorflow::virtual_clock>();
  auto failures = std::make_shared<std::vector<size_t>>();
  actorflow::stage_options skip;
  skip.timeout = 2s;
  skip.on_error = actorflow::error_policy::skip();
  skip.on_failure = [failures](const actorflow::item_failure& x) {
    failures->push_back(x.index);
  };
  auto skipped = actorflow::iota(0, 6)
                   .then(slow_on_3(vc, 2001ms), skip)
                   .collect()
                   .run(sys, on(vc));
  BOOST_REQUIRE(skipped);
  BOOST_TEST((*skipped == ints{0, 1, 2, 4, 5}));
  BOOST_TEST((*failures == std::vector<size_t>{3}));
  actorflow::stage_options retry;
  retry.timeout = 2s;
  retry.on_error = actorflow::error_policy::retry(1);
  auto retried = actorflow::iota(0, 6)
                   .then(slow_on_3(vc, 5s), retry)
                   .collect()
                   .run(sys, on(vc));
  BOOST_REQUIRE(retried);
  BOOST_TEST((*retried == ints{0, 1, 2, 3, 4, 5}));
  auto at_limit = actorflow::iota(0, 6)
                    .then(slow_on_3(vc, 2s), retry)
                    .collect()
                    .run(sys, on(vc));
  BOOST_REQUIRE(at_limit);
  BOOST_TEST((*at_limit == ints{0, 1, 2, 3, 4, 5}));
}

//! Contract: the timeout judges coroutine calls and the workers of
//! parallel_then too.
BOOST_AUTO_TEST_CASE(coroutines_and_parallel_workers_are_timed,
                     *utf::label("errors")) {
  auto vc = std::make_shared<actorflow::virtual_clock>();
  actorflow::stage_options so;
  so.timeout = 1s;
  so.on_error = actorflow::error_policy::skip();
  auto slow = slow_on_3(vc, 2s);
  auto coro
    = actorflow::iota(0, 6)
        .then([slow](int x) -> actorflow::task<int> { co_return slow(x); }, so)
        .collect()
        .run(sys, on(vc));
  BOOST_REQUIRE(coro);
  BOOST_TEST((*coro == ints{0, 1, 2, 4, 5}));
  // One worker, so that no other call spans the slow one.
  auto par = actorflow::iota(0, 6)
               .parallel_then(1, slow_on_3(vc, 2s), so)
               .collect()
               .run(sys, on(vc));
  BOOST_REQUIRE(par);
  BOOST_TEST((*par == ints{0, 1, 2, 4, 5}));
}

//! Contract: idle_timeout(d) passes items on, and fails the run with
//! error_code::timeout once no item came for d (counted from the last item
//! it passed on), not a moment earlier.
BOOST_AUTO_TEST_CASE(idle_timeout_fails_a_stalled_stream,
                     *utf::label("errors")) {
  timed_run<int, int> t{sys, "idle_timeout", [](actorflow::flow<int> f) {
                          return std::move(f).idle_timeout(100ms);
                        }};
  t.put(1);
  BOOST_TEST((t.out.blocking_recv() == std::optional<int>{1}));
  t.vc->advance(60ms);
  t.put(2);
  BOOST_TEST((t.out.blocking_recv() == std::optional<int>{2}));
  t.vc->advance(40ms); // 40 ms since item 2: the stage waits on
  BOOST_REQUIRE(t.vc->await_scheduled(2, 5000ms));
  t.vc->advance(59ms);
  BOOST_TEST(t.vc->pending() == 1u, "it failed 1 ms early");
  t.vc->advance(1ms);
  auto res = t.run->wait();
  BOOST_REQUIRE(!res);
  BOOST_TEST(has_code(res.error(), actorflow::error_code::timeout),
             actorflow::to_string_any(res.error()));
  BOOST_TEST(contains(actorflow::what(res.error()), "no item came for 100 ms"),
             actorflow::what(res.error()));
  expect_invalid(sys, actorflow::iota(0, 3).idle_timeout(0s),
                 "idle_timeout(d): d must be positive");
}

//! Contract: a negative timeout is a clear error.
BOOST_AUTO_TEST_CASE(a_negative_timeout_is_an_error, *utf::label("errors")) {
  actorflow::stage_options so;
  so.timeout = -1ms;
  expect_invalid(sys, actorflow::iota(0, 3).then([](int x) { return x; }, so),
                 "stage_options::timeout must not be negative");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(linger, system_fixture)

namespace {

/// `from(in).then(identity, so).to(out)` on the clock `vc`: the source stage
/// sends into `then` under `so`'s linger and batch.
struct lingering {
  actorflow::sender<int> in;
  actorflow::receiver<int> out;
  std::optional<actorflow::running<caf::unit_t>> run;

  lingering(caf::actor_system& sys,
            std::shared_ptr<actorflow::virtual_clock> vc,
            actorflow::stage_options so) {
    auto a = actorflow::channel<int>(sys, 64);
    auto b = actorflow::channel<int>(sys, 64);
    BOOST_REQUIRE(a && b);
    in = std::move(a->tx);
    out = std::move(b->rx);
    run.emplace(actorflow::from(std::move(a->rx))
                  .then([](int x) { return x; }, so)
                  .to(std::move(b->tx))
                  .start(sys, on(std::move(vc))));
  }

  void finish() {
    in.close();
    BOOST_TEST(!out.blocking_recv(), "end of stream");
    BOOST_TEST(static_cast<bool>(run->wait()));
  }
};

} // namespace

//! Contract: without a linger a partial batch leaves when its stage
//! suspends (no timer); with one it waits for the linger on the run's
//! clock, not a moment less.
BOOST_AUTO_TEST_CASE(a_partial_batch_waits_for_its_linger,
                     *utf::label("operators")) {
  auto plain_clock = std::make_shared<actorflow::virtual_clock>();
  lingering plain{sys, plain_clock, {}};
  BOOST_REQUIRE(plain.in.blocking_send(1));
  BOOST_TEST((plain.out.blocking_recv() == std::optional<int>{1}));
  BOOST_TEST(plain_clock->scheduled() == 0u);
  plain.finish();
  auto vc = std::make_shared<actorflow::virtual_clock>();
  actorflow::stage_options so;
  so.linger = 50ms;
  lingering t{sys, vc, so};
  BOOST_REQUIRE(t.in.blocking_send(1));
  BOOST_REQUIRE(vc->await_scheduled(1, 5000ms)); // the batch waits
  vc->advance(49ms);
  BOOST_TEST(vc->pending() == 1u, "the batch left 1 ms early");
  vc->advance(1ms);
  BOOST_TEST((t.out.blocking_recv() == std::optional<int>{1}));
  t.finish();
}

//! Contract: a full batch leaves at once, however long the linger.
BOOST_AUTO_TEST_CASE(full_batches_leave_at_once, *utf::label("operators")) {
  auto vc = std::make_shared<actorflow::virtual_clock>();
  actorflow::stage_options so;
  so.linger = 1h;
  so.batch = 4;
  lingering t{sys, vc, so};
  for (int i = 0; i < 8; ++i)
    BOOST_REQUIRE(t.in.blocking_send(i));
  for (int i = 0; i < 8; ++i)
    BOOST_TEST((t.out.blocking_recv() == std::optional<int>{i}));
  t.finish(); // the end of the stream sends a partial batch at once
}

//! Contract: a negative linger is a clear error, per stage and per run.
BOOST_AUTO_TEST_CASE(a_negative_linger_is_an_error, *utf::label("errors")) {
  actorflow::stage_options so;
  so.linger = -1ms;
  expect_invalid(sys, actorflow::iota(0, 3).then([](int x) { return x; }, so),
                 "stage_options::linger must not be negative");
  actorflow::run_options ro;
  ro.linger = -1ms;
  auto res = actorflow::iota(0, 3).collect().run(sys, ro);
  BOOST_REQUIRE(!res);
  BOOST_TEST(has_code(res.error(), actorflow::error_code::invalid_argument));
  BOOST_TEST(contains(actorflow::what(res.error()), "linger must not be "
                                                    "negative"),
             actorflow::what(res.error()));
}

BOOST_AUTO_TEST_SUITE_END()
