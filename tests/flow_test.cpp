// Black-box tests of the stream DSL (actorflow/flow.hpp, scatter.hpp): every
// source, operator and sink against a sequential reference (std algorithms)
// on random data with fixed seeds; randomized pipelines; order and the
// bounded reorder buffer of parallel_then; errors and misuse.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/behavior.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actorflow/ask.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using actorflow::error_code;
using actorflow::run_options;
using actorflow::stage_options;
using actorflow::task;
using actorflow_test::error_of;
using actorflow_test::has_code;
using actorflow_test::run_bounded;
using actorflow_test::system_fixture;
using actorflow_test::text;
using actorflow_test::value_of;
namespace utf = boost::unit_test;

#if defined(__SANITIZE_ADDRESS__)
#  define FLOW_TEST_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define FLOW_TEST_ASAN 1
#  endif
#endif
#ifndef FLOW_TEST_ASAN
#  define FLOW_TEST_ASAN 0
#endif

namespace {

using i64 = int64_t;
using clock_type = std::chrono::steady_clock;

std::vector<i64> random_values(uint64_t seed, size_t n, i64 lo = 0,
                               i64 hi = 1'000'000) {
  std::mt19937_64 rng{seed};
  std::uniform_int_distribution<i64> dist{lo, hi};
  std::vector<i64> xs(n);
  for (auto& x : xs)
    x = dist(rng);
  return xs;
}

template <class T>
std::vector<T> sorted(std::vector<T> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}

/// A CAF actor outside actorflow: replies x * 3.
caf::behavior tripler_impl() {
  return {[](int x) {
    return x * 3;
  }};
}

} // namespace

BOOST_AUTO_TEST_SUITE(operators)

//! Contract: then(f) emits f(x) for every item, in input order, like
//! std::transform; f may change the item type and take a const reference.
BOOST_FIXTURE_TEST_CASE(then_matches_std_transform, system_fixture,
                        *utf::label("operators")) {
  for (uint64_t seed : {11u, 12u, 13u}) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      auto xs = random_values(seed, 700 * (seed - 10));
      std::vector<i64> want(xs.size());
      std::transform(xs.begin(), xs.end(), want.begin(),
                     [](i64 x) { return x * 3 - 7; });
      auto got = value_of(actorflow::from(xs)
                            .then([](const i64& x) { return x * 3 - 7; })
                            .collect()
                            .run(sys));
      BOOST_TEST(got == want);
    }
  }
  // A type change, two stages in a row.
  std::vector<std::string> want;
  for (int i = 0; i < 300; ++i)
    want.push_back(std::to_string(i * i) + '!');
  auto got = value_of(actorflow::iota(0, 300)
                        .then([](int x) { return std::to_string(x * x); })
                        .then([](std::string s) {
                          s.push_back('!');
                          return s;
                        })
                        .collect()
                        .run(sys));
  BOOST_TEST(got == want);
}

//! Contract: filter(p) keeps exactly the items for which p holds, in order,
//! like std::copy_if (also when it keeps all or none of them).
BOOST_FIXTURE_TEST_CASE(filter_matches_std_copy_if, system_fixture,
                        *utf::label("operators")) {
  auto xs = random_values(21, 1500);
  std::vector<std::function<bool(i64)>> preds{
    [](i64 x) { return x % 3 == 0; },
    [](i64 x) { return x % 2 != 0; },
    [](i64) { return true; },
    [](i64) { return false; },
  };
  for (size_t i = 0; i < preds.size(); ++i) {
    BOOST_TEST_CONTEXT("predicate " << i) {
      std::vector<i64> want;
      std::copy_if(xs.begin(), xs.end(), std::back_inserter(want), preds[i]);
      auto got
        = value_of(actorflow::from(xs).filter(preds[i]).collect().run(sys));
      BOOST_TEST(got == want);
    }
  }
}

//! Contract: inspect(f) calls f once per item, in order, and passes every
//! item on unchanged.
BOOST_FIXTURE_TEST_CASE(inspect_sees_every_item_once, system_fixture,
                        *utf::label("operators")) {
  auto xs = random_values(31, 2000);
  std::atomic<size_t> calls{0};
  std::atomic<i64> sum{0};
  std::atomic<bool> in_order{true};
  size_t next = 0; // only the inspect stage touches it
  auto got = value_of(actorflow::from(xs)
                        .inspect([&](const i64& x) {
                          calls.fetch_add(1);
                          sum.fetch_add(x);
                          if (next >= xs.size() || xs[next] != x)
                            in_order = false;
                          ++next;
                        })
                        .collect()
                        .run(sys));
  BOOST_TEST(got == xs);
  BOOST_TEST(calls.load() == xs.size());
  BOOST_TEST(sum.load() == std::accumulate(xs.begin(), xs.end(), i64{0}));
  BOOST_TEST(in_order.load());
}

//! Contract: take(k) passes the first min(k, n) items and ends the stream,
//! including take(0) and k larger than the input.
BOOST_FIXTURE_TEST_CASE(take_matches_prefix, system_fixture,
                        *utf::label("operators")) {
  auto xs = random_values(41, 1000);
  for (size_t k : {0u, 1u, 7u, 999u, 1000u, 1001u, 5000u}) {
    BOOST_TEST_CONTEXT("k " << k) {
      std::vector<i64> want(xs.begin(), xs.begin() + std::min(k, xs.size()));
      auto got = value_of(actorflow::from(xs).take(k).collect().run(sys));
      BOOST_TEST(got == want);
      // Capacity 1: the source blocks on every item, take stops it.
      auto got1 = value_of(actorflow::from(xs).take(k).collect().run(
        sys, run_options{.capacity = 1}));
      BOOST_TEST(got1 == want);
    }
  }
  // take(0) of an endless source ends too.
  auto none = value_of(actorflow::repeat(1).take(0).collect().run(sys));
  BOOST_TEST(none.empty());
}

//! Contract: parallel_then(n, f) emits exactly f(x) for every item in input
//! order, for any number of workers and windows.
BOOST_FIXTURE_TEST_CASE(parallel_then_matches_std_transform, system_fixture,
                        *utf::label("operators")) {
  auto xs = random_values(51, 3000);
  std::vector<i64> want(xs.size());
  std::transform(xs.begin(), xs.end(), want.begin(),
                 [](i64 x) { return (x * 7919) % 100'003; });
  for (size_t n : {1u, 2u, 3u, 8u}) {
    for (size_t window : {0u, 1u, 5u}) {
      BOOST_TEST_CONTEXT("n " << n << ", window " << window) {
        auto got
          = value_of(actorflow::from(xs)
                       .parallel_then(
                         n, [](i64 x) { return (x * 7919) % 100'003; }, window)
                       .collect()
                       .run(sys));
        BOOST_TEST(got == want);
      }
    }
  }
  // A type change.
  std::vector<std::string> want_s;
  for (auto x : xs)
    want_s.push_back(std::to_string(x));
  auto got_s
    = value_of(actorflow::from(xs)
                 .parallel_then(3, [](i64 x) { return std::to_string(x); })
                 .collect()
                 .run(sys));
  BOOST_TEST(got_s == want_s);
}

//! Contract: parallel_then_unordered(n, f) emits exactly the multiset
//! {f(x)}: each result once, none lost, none invented.
BOOST_FIXTURE_TEST_CASE(parallel_then_unordered_matches_as_multiset,
                        system_fixture, *utf::label("operators")) {
  // Duplicates in the input make "each exactly once" observable.
  auto xs = random_values(61, 3000, 0, 500);
  std::vector<i64> want(xs.size());
  std::transform(xs.begin(), xs.end(), want.begin(),
                 [](i64 x) { return x * 2 + 1; });
  want = sorted(want);
  for (size_t n : {1u, 2u, 3u, 8u}) {
    BOOST_TEST_CONTEXT("n " << n) {
      auto got = value_of(
        actorflow::from(xs)
          .parallel_then_unordered(n, [](i64 x) { return x * 2 + 1; })
          .collect()
          .run(sys, run_options{.capacity = 16}));
      BOOST_TEST(sorted(got) == want);
    }
  }
}

//! Contract: fold(init, f) is std::accumulate over the stream in order (a
//! non-commutative f detects reordering), with any accumulator type.
BOOST_FIXTURE_TEST_CASE(fold_matches_std_accumulate, system_fixture,
                        *utf::label("operators")) {
  auto xs = random_values(71, 2500);
  auto step = [](i64 acc, i64 x) {
    return (acc * 31 + x) % 1'000'000'007;
  };
  auto want = std::accumulate(xs.begin(), xs.end(), i64{5}, step);
  auto got
    = value_of(actorflow::from(xs)
                 .fold(i64{5}, [&](i64& acc, i64 x) { return step(acc, x); })
                 .run(sys, run_options{.capacity = 3}));
  BOOST_TEST(got == want);
  // A string accumulator; the empty stream yields init.
  auto s = value_of(
    actorflow::iota(0, 5)
      .fold(std::string{"x"},
            [](std::string& acc, int x) { return acc + std::to_string(x); })
      .run(sys));
  BOOST_TEST(s == "x01234");
  auto empty = value_of(actorflow::iota(5, 5)
                          .fold(i64{42}, [](i64& acc, int) { return acc + 1; })
                          .run(sys));
  BOOST_TEST(empty == 42);
}

//! Contract: collect() returns the items in stream order.
BOOST_FIXTURE_TEST_CASE(collect_returns_items_in_order, system_fixture,
                        *utf::label("operators")) {
  std::vector<std::string> xs;
  std::mt19937_64 rng{81};
  for (int i = 0; i < 777; ++i)
    xs.push_back(std::string(rng() % 20, 'a' + static_cast<char>(rng() % 26)));
  auto got = value_of(actorflow::from(xs).collect().run(sys));
  BOOST_TEST(got == xs);
  auto empty = value_of(actorflow::from(std::vector<int>{}).collect().run(sys));
  BOOST_TEST(empty.empty());
}

//! Contract: for_each(h) calls h on every item in order, and run returns
//! (unit) only after the last call.
BOOST_FIXTURE_TEST_CASE(for_each_visits_items_in_order, system_fixture,
                        *utf::label("operators")) {
  auto xs = random_values(91, 1800);
  std::vector<i64> seen; // only the sink actor touches it while running
  auto res = actorflow::from(xs)
               .for_each([&](i64 x) { seen.push_back(x); })
               .run(sys, run_options{.capacity = 2});
  BOOST_TEST_REQUIRE(static_cast<bool>(res));
  BOOST_TEST(seen == xs);
}

//! Contract: to(tx) delivers every item into an existing channel, in order,
//! and closes it at the end (a reading thread sees end-of-stream).
BOOST_FIXTURE_TEST_CASE(to_sender_feeds_a_reading_thread, system_fixture,
                        *utf::label("operators")) {
  auto xs = random_values(101, 2000);
  auto ch = actorflow::channel<i64>(sys, 4);
  BOOST_TEST_REQUIRE(static_cast<bool>(ch));
  auto [tx, rx] = std::move(*ch);
  std::vector<i64> got;
  std::jthread reader{[&got, rx = std::move(rx)]() mutable {
    while (auto x = rx.blocking_recv())
      got.push_back(*x);
  }};
  auto res = actorflow::from(xs)
               .then([](i64 x) { return x - 1; })
               .to(std::move(tx))
               .run(sys);
  reader.join(); // returns only if the pipeline closed the channel
  BOOST_TEST(static_cast<bool>(res));
  std::vector<i64> want(xs.size());
  std::transform(xs.begin(), xs.end(), want.begin(),
                 [](i64 x) { return x - 1; });
  BOOST_TEST(got == want);
}

//! Contract: to(tx) ends the pipeline without error when every receiver of
//! the channel is gone, even behind an endless source.
BOOST_FIXTURE_TEST_CASE(to_sender_ends_when_receivers_leave, system_fixture,
                        *utf::label("operators")) {
  auto ch = actorflow::channel<int>(sys, 4);
  BOOST_TEST_REQUIRE(static_cast<bool>(ch));
  auto [tx, rx] = std::move(*ch);
  std::vector<int> got;
  std::jthread reader{[&got, rx = std::move(rx)]() mutable {
    while (got.size() < 10) {
      auto x = rx.blocking_recv();
      if (!x)
        break;
      got.push_back(*x);
    }
    rx.close();
  }};
  auto res = actorflow::iota(0).to(std::move(tx)).run(sys);
  reader.join();
  BOOST_TEST(static_cast<bool>(res));
  std::vector<int> want(10);
  std::iota(want.begin(), want.end(), 0);
  BOOST_TEST(got == want);
}

//! Contract: from(rx) streams the items of an existing channel, in order,
//! until every sender of it is gone.
BOOST_FIXTURE_TEST_CASE(from_receiver_fed_by_a_thread, system_fixture,
                        *utf::label("operators")) {
  auto xs = random_values(111, 2000);
  auto ch = actorflow::channel<i64>(sys, 8);
  BOOST_TEST_REQUIRE(static_cast<bool>(ch));
  auto [tx, rx] = std::move(*ch);
  std::atomic<bool> send_failed{false};
  std::jthread feeder{[&, tx = std::move(tx)]() mutable {
    for (auto x : xs)
      if (!tx.blocking_send(x)) {
        send_failed = true;
        break;
      }
    tx.close();
  }};
  auto got = actorflow::from(std::move(rx))
               .then([](i64 x) { return x * 2; })
               .collect()
               .run(sys);
  feeder.join();
  BOOST_TEST_REQUIRE(static_cast<bool>(got));
  BOOST_TEST(!send_failed.load());
  std::vector<i64> want(xs.size());
  std::transform(xs.begin(), xs.end(), want.begin(),
                 [](i64 x) { return x * 2; });
  BOOST_TEST(*got == want);
}

//! Contract: generate(f) streams f()'s values until it returns nullopt.
BOOST_FIXTURE_TEST_CASE(generate_until_nullopt, system_fixture,
                        *utf::label("operators")) {
  // Fibonacci mod 1000, 500 items, computed sequentially as reference.
  std::vector<int> want;
  for (int a = 0, b = 1; want.size() < 500;) {
    want.push_back(a);
    a = std::exchange(b, (a + b) % 1000);
  }
  auto got = value_of(actorflow::generate([a = 0, b = 1, n = 0]() mutable {
                        if (n++ == 500)
                          return std::optional<int>{};
                        auto r = a;
                        a = std::exchange(b, (a + b) % 1000);
                        return std::optional<int>{r};
                      })
                        .collect()
                        .run(sys));
  BOOST_TEST(got == want);
  auto none = value_of(actorflow::generate([] { return std::optional<int>{}; })
                         .collect()
                         .run(sys));
  BOOST_TEST(none.empty());
}

//! Contract: repeat(x).take(k) yields k copies of x; iota(a).take(k) yields
//! a, a+1, ..., a+k-1; iota(a, b) yields [a, b) (empty when a >= b).
BOOST_FIXTURE_TEST_CASE(endless_sources_with_take, system_fixture,
                        *utf::label("operators")) {
  auto reps
    = value_of(actorflow::repeat(std::string{"ab"}).take(5).collect().run(sys));
  BOOST_TEST(reps == std::vector<std::string>(5, "ab"));
  auto reps1 = value_of(actorflow::repeat(7).take(1000).collect().run(
    sys, run_options{.capacity = 1}));
  BOOST_TEST(reps1 == std::vector<int>(1000, 7));
  auto nums = value_of(actorflow::iota(i64{10}).take(100).collect().run(sys));
  std::vector<i64> want(100);
  std::iota(want.begin(), want.end(), i64{10});
  BOOST_TEST(nums == want);
  auto range = value_of(actorflow::iota(-3, 4).collect().run(sys));
  BOOST_TEST(range == (std::vector<int>{-3, -2, -1, 0, 1, 2, 3}));
  auto empty = value_of(actorflow::iota(4, 4).collect().run(sys));
  BOOST_TEST(empty.empty());
  auto reversed = value_of(actorflow::iota(4, -4).collect().run(sys));
  BOOST_TEST(reversed.empty());
}

//! Contract: then(f) with a coroutine f returning task<U> awaits f's result;
//! f may co_await actorflow::ask of an existing CAF actor (also inside the
//! workers of parallel_then).
BOOST_FIXTURE_TEST_CASE(then_coroutine_asks_a_caf_actor, system_fixture,
                        *utf::label("operators") * utf::label("ask")) {
  auto tripler = sys.spawn(tripler_impl);
  auto ask3 = [tripler](int x) -> task<int> {
    auto r = co_await actorflow::ask<int>(tripler, 5s, x);
    if (!r)
      throw std::runtime_error("ask failed: "
                               + actorflow::to_string_any(r.error()));
    co_return *r;
  };
  std::vector<int> want(300);
  for (int i = 0; i < 300; ++i)
    want[static_cast<size_t>(i)] = i * 3;
  auto got = value_of(actorflow::iota(0, 300).then(ask3).collect().run(sys));
  BOOST_TEST(got == want);
  auto got_par = value_of(
    actorflow::iota(0, 300).parallel_then(3, ask3).collect().run(sys));
  BOOST_TEST(got_par == want);
  // An ask of a dead actor fails; the stage's exception names the item.
  caf::anon_send_exit(tripler, caf::exit_reason::user_shutdown);
  auto err = error_of(actorflow::iota(0, 3).then(ask3).collect().run(sys));
  BOOST_TEST(has_code(err, error_code::worker_failed));
  BOOST_TEST(actorflow_test::contains(text(err),
                                      "worker 'then#2' threw: item 0: ask "
                                      "failed"),
             text(err));
}

//! Contract: a flow builder is a value: copies run independently and give
//! the same result.
BOOST_FIXTURE_TEST_CASE(builder_copies_are_independent, system_fixture,
                        *utf::label("operators")) {
  auto base = actorflow::from(std::vector<int>{1, 2, 3, 4}).then([](int x) {
    return x * 10;
  });
  auto copy = base;
  auto a = value_of(std::move(base).collect().run(sys));
  auto b = value_of(std::move(copy).take(2).collect().run(sys));
  BOOST_TEST(a == (std::vector<int>{10, 20, 30, 40}));
  BOOST_TEST(b == (std::vector<int>{10, 20}));
}

BOOST_AUTO_TEST_SUITE_END()

// -- order and the reorder window ----------------------------------------------

//! Contract: parallel_then's output is exactly in input order although f's
//! cost is skewed (every 50th item busy-loops 2 ms, so items complete out of
//! order), for several worker counts and windows.
BOOST_FIXTURE_TEST_CASE(parallel_then_is_ordered_under_skew, system_fixture,
                        *utf::label("order")) {
  constexpr int items = 2000;
  std::vector<int> want(items);
  for (int i = 0; i < items; ++i)
    want[static_cast<size_t>(i)] = i * 2 + 1;
  for (size_t n : {2u, 4u, 8u}) {
    for (size_t window : {0u, 8u}) {
      BOOST_TEST_CONTEXT("n " << n << ", window " << window) {
        // Completion order of f, to show that the skew reorders work.
        std::vector<uint64_t> finished(items);
        std::atomic<uint64_t> ticket{0};
        auto got = value_of(actorflow::iota(0, items)
                              .parallel_then(
                                n,
                                [&](int x) {
                                  if (x % 50 == 0)
                                    actorflow_test::spin_for(2ms);
                                  finished[static_cast<size_t>(x)]
                                    = ticket.fetch_add(1);
                                  return x * 2 + 1;
                                },
                                window)
                              .collect()
                              .run(sys, run_options{.capacity = 16}));
        BOOST_TEST(got == want);
        size_t inversions = 0;
        for (size_t i = 0; i + 1 < finished.size(); ++i)
          if (finished[i] > finished[i + 1])
            ++inversions;
        BOOST_TEST_MESSAGE("n " << n << ", window " << window << ": "
                                << inversions
                                << " adjacent items finished out of order");
        // The premise (not the contract): the skew did reorder completion.
        BOOST_WARN_GT(inversions, 0u);
      }
    }
  }
}

namespace {

/// Runs iota(0, items).parallel_then(n, f, window) where item 0 is
/// pathologically slow: it busy-waits until no other item can start any
/// more (the count of items that entered f stops growing for 100 ms), or
/// until that count exceeds `limit` (no reason to wait further), or 5 s
/// passed. Returns the number of items that entered f before item 0
/// finished (item 0 included).
size_t started_while_head_is_slow(caf::actor_system& sys, size_t n,
                                  size_t window, int items, size_t limit,
                                  bool via_options = false) {
  std::atomic<size_t> started{0};
  std::atomic<size_t> observed{0};
  auto f = [&](int x) {
    started.fetch_add(1);
    if (x == 0) {
      auto t0 = clock_type::now();
      auto last = started.load();
      auto last_change = t0;
      for (;;) {
        auto s = started.load();
        auto t = clock_type::now();
        if (s > limit || t - t0 > 5s)
          break;
        if (s != last) {
          last = s;
          last_change = t;
        } else if (t - last_change > 100ms) {
          break;
        }
      }
      observed = started.load();
    }
    return x;
  };
  auto got = value_of(run_bounded(
    via_options
      ? actorflow::iota(0, items)
          .parallel_then(n, f, stage_options{.window = window})
          .collect()
      : actorflow::iota(0, items).parallel_then(n, f, window).collect(),
    sys));
  std::vector<int> want(static_cast<size_t>(items));
  std::iota(want.begin(), want.end(), 0);
  BOOST_TEST(got == want);
  return observed.load();
}

} // namespace

//! Contract: parallel_then(n, f, window) holds back dispatch while the item
//! at the head of the order is slow: at most `window` items enter f before
//! the head finishes. Why exactly `window` (constant 0): the scatter
//! dispatches item `seq` only while `seq - emitted < window` (its reorder
//! gate, shared with the gather, which counts the items it emitted), and the
//! gather emits nothing before item 0; so items 0..window-1 at most are
//! dispatched. Control run:
//! with window 1024 the same instrument sees more than 8 items enter f, so
//! this test fails if the bound is missing.
BOOST_FIXTURE_TEST_CASE(parallel_then_reorder_buffer_is_bounded, system_fixture,
                        *utf::label("order")) {
  constexpr size_t window = 8;
  auto bounded = started_while_head_is_slow(sys, 4, window, 200, window);
  BOOST_TEST_MESSAGE("window 8: " << bounded << " items entered f");
  BOOST_TEST(bounded <= window);
  // The premise (not the contract): other workers did start items while
  // item 0 was slow. How many depends on how many items the worker stuck on
  // item 0 holds in read-ahead (a tuning choice: 7 of 8 with batches of 2,
  // 5 of 8 with batches of 8).
  BOOST_WARN_GE(bounded, 2u);
  // Control: the instrument detects a missing bound.
  auto unbounded = started_while_head_is_slow(sys, 4, 1024, 2000, window);
  BOOST_TEST_MESSAGE("window 1024: " << unbounded << " items entered f");
  BOOST_TEST(unbounded > window);
}

// -- errors ----------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(errors)

//! Contract: an exception in then's f ends the run with worker_failed naming
//! the stage (then#2: the source is #1) and the item's index in that stage.
BOOST_FIXTURE_TEST_CASE(then_exception_names_stage_and_item, system_fixture,
                        *utf::label("errors")) {
  auto err = error_of(actorflow::iota(0, 100)
                        .then([](int x) {
                          if (x == 17)
                            throw std::runtime_error("boom");
                          return x;
                        })
                        .collect()
                        .run(sys));
  BOOST_TEST(has_code(err, error_code::worker_failed));
  BOOST_TEST(text(err) == "worker 'then#2' threw: item 17: boom");
  // Behind a filter the index counts the items this stage received: the
  // 11th even number (20) is item 10 of then#3.
  auto err2 = error_of(actorflow::iota(0, 100)
                         .filter([](int x) { return x % 2 == 0; })
                         .then([](int x) {
                           if (x == 20)
                             throw std::runtime_error("boom");
                           return x;
                         })
                         .collect()
                         .run(sys));
  BOOST_TEST(text(err2) == "worker 'then#3' threw: item 10: boom");
  // A coroutine f.
  auto err3 = error_of(actorflow::iota(0, 100)
                         .then([](int x) -> task<int> {
                           if (x == 33)
                             throw std::runtime_error("co-boom");
                           co_return x;
                         })
                         .collect()
                         .run(sys));
  BOOST_TEST(text(err3) == "worker 'then#2' threw: item 33: co-boom");
}

//! Contract: an exception in filter's predicate or inspect's f names the
//! stage and the item; one not derived from std::exception is reported too.
BOOST_FIXTURE_TEST_CASE(filter_and_inspect_exceptions, system_fixture,
                        *utf::label("errors")) {
  auto err = error_of(actorflow::iota(0, 50)
                        .then([](int x) { return x; })
                        .filter([](int x) {
                          if (x == 5)
                            throw std::invalid_argument("bad pred");
                          return true;
                        })
                        .collect()
                        .run(sys));
  BOOST_TEST(has_code(err, error_code::worker_failed));
  BOOST_TEST(text(err) == "worker 'filter#3' threw: item 5: bad pred");
  auto err2 = error_of(actorflow::iota(0, 50)
                         .inspect([](int x) {
                           if (x == 49)
                             throw 42;
                         })
                         .collect()
                         .run(sys));
  BOOST_TEST(text(err2)
             == "worker 'inspect#2' threw: item 49: an exception not derived "
                "from std::exception");
}

//! Contract: an exception in a parallel_then / parallel_then_unordered
//! worker names the stage's worker and the item's index in the stage input.
BOOST_FIXTURE_TEST_CASE(parallel_then_exception_names_stage_and_item,
                        system_fixture, *utf::label("errors")) {
  for (bool ordered : {true, false}) {
    BOOST_TEST_CONTEXT("ordered " << ordered) {
      auto f = [](int x) {
        if (x == 1017)
          throw std::runtime_error("boom");
        return x;
      };
      auto fl = actorflow::iota(1000, 2000).filter([](int) { return true; });
      auto res
        = ordered
            ? std::move(fl).parallel_then(3, f).collect().run(sys)
            : std::move(fl).parallel_then_unordered(3, f).collect().run(sys);
      auto err = error_of(std::move(res));
      BOOST_TEST(has_code(err, error_code::worker_failed));
      auto prefix = std::string{"worker '"}
                    + (ordered ? "parallel_then" : "parallel_then_unordered")
                    + "#3.worker";
      BOOST_TEST(text(err).rfind(prefix, 0) == 0u, text(err));
      BOOST_TEST(actorflow_test::contains(text(err), "' threw: item 17: boom"),
                 text(err));
    }
  }
}

//! Contract: an exception in fold's f (or for_each's h) names the sink stage
//! and the item's index.
BOOST_FIXTURE_TEST_CASE(fold_exception_names_stage_and_item, system_fixture,
                        *utf::label("errors")) {
  auto err = error_of(actorflow::iota(0, 100)
                        .fold(0,
                              [](int& acc, int x) {
                                if (x == 9)
                                  throw std::runtime_error("fold failed");
                                return acc + x;
                              })
                        .run(sys));
  BOOST_TEST(has_code(err, error_code::worker_failed));
  BOOST_TEST(text(err) == "worker 'sink#2' threw: item 9: fold failed");
  auto err2 = error_of(actorflow::iota(0, 100)
                         .then([](int x) { return x; })
                         .for_each([](int x) {
                           if (x == 64)
                             throw std::runtime_error("sink failed");
                         })
                         .run(sys));
  BOOST_TEST(text(err2) == "worker 'sink#3' threw: item 64: sink failed");
  // A throwing source.
  auto err3 = error_of(actorflow::generate([n = 0]() mutable {
                         if (n == 3)
                           throw std::runtime_error("dry");
                         return std::optional<int>{n++};
                       })
                         .collect()
                         .run(sys));
  BOOST_TEST(text(err3) == "worker 'generate#1' threw: item 3: dry");
}

//! Contract: a failing stage behind an endless source ends the whole run
//! with that stage's error within bounded time (the source is cancelled),
//! wherever the failure is and whatever the capacity.
BOOST_FIXTURE_TEST_CASE(failure_behind_endless_source_ends_the_run,
                        system_fixture, *utf::label("errors")) {
  auto throw_at = [](int k) {
    return [k, n = 0](int x) mutable {
      if (n++ == k)
        throw std::runtime_error("stop");
      return x;
    };
  };
  for (size_t cap : {1u, 1024u}) {
    BOOST_TEST_CONTEXT("capacity " << cap) {
      run_options ro{.capacity = cap};
      auto t0 = clock_type::now();
      auto e1 = error_of(actorflow::repeat(1)
                           .then(throw_at(1000))
                           .for_each([](int) {})
                           .run(sys, ro));
      BOOST_TEST(text(e1) == "worker 'then#2' threw: item 1000: stop");
      auto e2 = error_of(actorflow::iota(0)
                           .then([](int x) { return x + 1; })
                           .parallel_then(2,
                                          [](int x) {
                                            if (x == 501)
                                              throw std::runtime_error("par");
                                            return x;
                                          })
                           .collect()
                           .run(sys, ro));
      BOOST_TEST(actorflow_test::contains(text(e2), "threw: item 500: par"),
                 text(e2));
      auto e3 = error_of(actorflow::iota(0)
                           .fold(0,
                                 [](int& acc, int x) {
                                   if (x == 5000)
                                     throw std::runtime_error("sink");
                                   return acc ^ x;
                                 })
                           .run(sys, ro));
      BOOST_TEST(text(e3) == "worker 'sink#2' threw: item 5000: sink");
      // The source fails while the endless rest keeps running.
      auto e4 = error_of(actorflow::generate([n = 0]() mutable {
                           if (n == 100)
                             throw std::runtime_error("src");
                           return std::optional<int>{n++};
                         })
                           .then([](int x) { return x; })
                           .collect()
                           .run(sys, ro));
      BOOST_TEST(text(e4) == "worker 'generate#1' threw: item 100: src");
      auto elapsed = clock_type::now() - t0;
      BOOST_TEST(elapsed < 5s);
    }
  }
}

//! Contract: parallel_then(0, f) and parallel_then_unordered(0, f) make the
//! run fail with invalid_argument, and nothing downstream hides it.
BOOST_FIXTURE_TEST_CASE(parallel_then_with_zero_workers, system_fixture,
                        *utf::label("errors")) {
  auto err = error_of(actorflow::iota(0, 10)
                        .parallel_then(0, [](int x) { return x; })
                        .then([](int x) { return x; })
                        .collect()
                        .run(sys));
  BOOST_TEST(has_code(err, error_code::invalid_argument));
  BOOST_TEST(actorflow_test::contains(text(err), "parallel_then(0, f)"),
             text(err));
  auto err2 = error_of(actorflow::iota(0, 10)
                         .parallel_then_unordered(0, [](int x) { return x; })
                         .collect()
                         .run(sys));
  BOOST_TEST(has_code(err2, error_code::invalid_argument));
  BOOST_TEST(actorflow_test::contains(text(err2),
                                      "parallel_then_unordered(0, f)"),
             text(err2));
}

//! Contract: a builder used after it was moved from yields a pipeline that
//! fails with invalid_argument (through any operator and sink), while the
//! builder that took its place works.
BOOST_FIXTURE_TEST_CASE(moved_from_builder_is_invalid_argument, system_fixture,
                        *utf::label("errors")) {
  auto f = actorflow::iota(0, 10);
  auto g = std::move(f).then([](int x) { return x + 1; });
  auto err = error_of(std::move(f).collect().run(sys));
  BOOST_TEST(has_code(err, error_code::invalid_argument));
  BOOST_TEST(actorflow_test::contains(text(err), "moved from"), text(err));
  auto err2 = error_of(std::move(f)
                         .then([](int x) { return x; })
                         .filter([](int) { return true; })
                         .take(3)
                         .inspect([](int) {})
                         .for_each([](int) {})
                         .run(sys));
  BOOST_TEST(has_code(err2, error_code::invalid_argument));
  auto err3 = error_of(
    std::move(f).parallel_then(2, [](int x) { return x; }).collect().run(sys));
  BOOST_TEST(has_code(err3, error_code::invalid_argument));
  auto err4 = error_of(actorflow::flow<int>{}.collect().run(sys));
  BOOST_TEST(has_code(err4, error_code::invalid_argument));
  auto ok = value_of(std::move(g).collect().run(sys));
  BOOST_TEST(ok == (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

//! Contract: run on a moved-from, default-constructed or already run
//! pipeline fails with invalid_argument; the pipeline it moved to runs once.
BOOST_FIXTURE_TEST_CASE(run_on_moved_from_pipeline, system_fixture,
                        *utf::label("errors")) {
  auto p = actorflow::iota(0, 3).collect();
  auto q = std::move(p);
  auto err = error_of(std::move(p).run(sys));
  BOOST_TEST(has_code(err, error_code::invalid_argument));
  auto ok = value_of(std::move(q).run(sys));
  BOOST_TEST(ok == (std::vector<int>{0, 1, 2}));
  auto again = error_of(std::move(q).run(sys));
  BOOST_TEST(has_code(again, error_code::invalid_argument));
  auto err2 = error_of(actorflow::pipeline<int>{}.run(sys));
  BOOST_TEST(has_code(err2, error_code::invalid_argument));
}

//! Contract: a run whose channels cannot be created (capacity 0) fails with
//! invalid_capacity instead of hanging or succeeding.
BOOST_FIXTURE_TEST_CASE(zero_capacity_is_an_error, system_fixture,
                        *utf::label("errors")) {
  auto err = error_of(actorflow::iota(0, 10)
                        .then([](int x) { return x; })
                        .collect()
                        .run(sys, run_options{.capacity = 0}));
  BOOST_TEST(has_code(err, error_code::invalid_capacity));
  auto err2 = error_of(actorflow::iota(0, 10)
                         .parallel_then(2, [](int x) { return x; })
                         .collect(stage_options{.capacity = 4})
                         .run(sys, run_options{.capacity = 0}));
  BOOST_TEST(has_code(err2, error_code::invalid_capacity));
}

//! Contract: a pipeline over an existing receiver (or into an existing
//! sender) runs once; a second run of a copy fails instead of silently
//! reading nothing.
BOOST_FIXTURE_TEST_CASE(channel_endpoints_run_once, system_fixture,
                        *utf::label("errors")) {
  auto ch = actorflow::channel<int>(sys, 4);
  BOOST_TEST_REQUIRE(static_cast<bool>(ch));
  auto [tx, rx] = std::move(*ch);
  auto src = actorflow::from(std::move(rx));
  auto copy = src;
  std::jthread feeder{[tx = std::move(tx)]() mutable {
    for (int i = 0; i < 5; ++i)
      if (!tx.blocking_send(i))
        break;
    tx.close();
  }};
  auto first = value_of(std::move(src).collect().run(sys));
  feeder.join();
  BOOST_TEST(first == (std::vector<int>{0, 1, 2, 3, 4}));
  auto err = error_of(std::move(copy).collect().run(sys));
  BOOST_TEST(has_code(err, error_code::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()

// -- error policies ------------------------------------------------------------

namespace {

/// Counts the calls of on_failure per action (thread-safe: the workers of a
/// parallel stage report concurrently).
struct failure_log {
  std::mutex mtx;
  std::vector<actorflow::item_failure> all;

  size_t count(actorflow::failure_action a) {
    std::lock_guard guard{mtx};
    return static_cast<size_t>(std::count_if(
      all.begin(), all.end(), [a](const auto& x) { return x.action == a; }));
  }

  std::function<void(const actorflow::item_failure&)> listener() {
    return [this](const actorflow::item_failure& x) {
      std::lock_guard guard{mtx};
      all.push_back(x);
    };
  }
};

/// f for the policy tests: fails (throws) on items with x % 7 == 3.
i64 throw_on_3(i64 x) {
  if (x % 7 == 3)
    throw std::runtime_error("bad " + std::to_string(x));
  return x * 2 + 1;
}

/// The sequential reference of then(throw_on_3) with skip.
std::vector<i64> skip_reference(const std::vector<i64>& xs) {
  std::vector<i64> out;
  for (auto x : xs)
    if (x % 7 != 3)
      out.push_back(x * 2 + 1);
  return out;
}

/// How often flaky(x) fails before it succeeds: 0, 1 or 2 times.
int flakiness(i64 x) {
  return static_cast<int>(x % 3);
}

/// A function that fails the first flakiness(x) calls for item x; shared by
/// the workers of a parallel stage (the state is behind a mutex).
struct flaky {
  struct state {
    std::mutex mtx;
    std::map<i64, int> calls;
  };
  std::shared_ptr<state> st = std::make_shared<state>();

  i64 operator()(i64 x) const {
    int n;
    {
      std::lock_guard guard{st->mtx};
      n = st->calls[x]++;
    }
    if (n < flakiness(x))
      throw std::runtime_error("flaky " + std::to_string(x));
    return x - 5;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(policies)

//! Contract: with error_policy::skip, then / parallel_then /
//! parallel_then_unordered / route_by_key drop exactly the items on which f
//! throws (sequential reference: the others, mapped, in order), and
//! on_failure hears of each one with action skip.
BOOST_FIXTURE_TEST_CASE(skip_drops_failing_items, system_fixture,
                        *utf::label("policies")) {
  auto xs = random_values(31, 3000);
  auto want = skip_reference(xs);
  auto failing = static_cast<size_t>(
    std::count_if(xs.begin(), xs.end(), [](i64 x) { return x % 7 == 3; }));
  BOOST_TEST_REQUIRE(failing > 100u);
  using actorflow::error_policy;
  using actorflow::failure_action;
  {
    failure_log log;
    stage_options so{.on_error = error_policy::skip(),
                     .on_failure = log.listener()};
    auto got
      = value_of(actorflow::from(xs).then(throw_on_3, so).collect().run(sys));
    BOOST_TEST(got == want);
    BOOST_TEST(log.count(failure_action::skip) == failing);
    BOOST_TEST(log.all.size() == failing);
    // The first report names the first failing item by its index.
    auto first = std::find_if(xs.begin(), xs.end(),
                              [](i64 x) { return x % 7 == 3; });
    BOOST_TEST(log.all.front().index
               == static_cast<size_t>(first - xs.begin()));
    BOOST_TEST(log.all.front().attempt == 1u);
    BOOST_TEST(!log.all.front().returned);
    BOOST_TEST(log.all.front().what == "bad " + std::to_string(*first));
  }
  for (size_t n : {1u, 3u}) {
    BOOST_TEST_CONTEXT("workers " << n) {
      failure_log log;
      stage_options so{.on_error = error_policy::skip(),
                       .on_failure = log.listener()};
      auto got = value_of(actorflow::from(xs)
                            .parallel_then(n, throw_on_3, so)
                            .collect()
                            .run(sys));
      BOOST_TEST(got == want);
      BOOST_TEST(log.count(failure_action::skip) == failing);
      auto got_u = value_of(actorflow::from(xs)
                              .parallel_then_unordered(n, throw_on_3, so)
                              .collect()
                              .run(sys));
      BOOST_TEST(sorted(got_u) == sorted(want));
      auto got_k = value_of(actorflow::from(xs)
                              .route_by_key(
                                n, [](i64 x) { return x % 10; }, throw_on_3, so)
                              .collect()
                              .run(sys));
      BOOST_TEST(sorted(got_k) == sorted(want));
      BOOST_TEST(log.count(failure_action::skip) == 3 * failing);
    }
  }
}

//! Contract: skip works for every operator that calls user code: filter,
//! inspect and take_while drop the failing item, flat_map drops its range,
//! fold leaves the accumulator as it was (sequential references).
BOOST_FIXTURE_TEST_CASE(skip_in_every_operator, system_fixture,
                        *utf::label("policies")) {
  auto xs = random_values(32, 1000, 0, 999);
  stage_options skip{.on_error = actorflow::error_policy::skip()};
  auto bad = [](i64 x) {
    return x % 7 == 3;
  };
  std::vector<i64> kept;
  std::copy_if(xs.begin(), xs.end(), std::back_inserter(kept),
               [&](i64 x) { return !bad(x); });
  auto pred = [&](i64 x) {
    if (bad(x))
      throw std::runtime_error("p");
    return true;
  };
  BOOST_TEST(value_of(actorflow::from(xs).filter(pred, skip).collect().run(sys))
             == kept);
  BOOST_TEST(value_of(actorflow::from(xs)
                        .inspect([&](i64 x) { (void)pred(x); }, skip)
                        .collect()
                        .run(sys))
             == kept);
  BOOST_TEST(
    value_of(actorflow::from(xs).take_while(pred, skip).collect().run(sys))
    == kept);
  auto twice = value_of(actorflow::from(xs)
                          .flat_map(
                            [&](i64 x) {
                              (void)pred(x);
                              return std::vector<i64>{x, x};
                            },
                            skip)
                          .collect()
                          .run(sys));
  BOOST_TEST(twice.size() == 2 * kept.size());
  auto sum = value_of(actorflow::from(xs)
                        .fold(
                          i64{0},
                          [&](i64& acc, i64 x) {
                            (void)pred(x);
                            return acc + x;
                          },
                          skip)
                        .run(sys));
  BOOST_TEST(sum == std::accumulate(kept.begin(), kept.end(), i64{0}));
}

//! Contract: retry(k) calls f again on a failing item, up to k more times
//! (each call gets the item as it came, not a moved-from one): items that
//! succeed within k+1 calls pass in order (sequential reference), and
//! on_failure hears of every retry. If the last call fails too, the run
//! ends with the item's index and the number of attempts; with or_skip the
//! item is dropped instead.
BOOST_FIXTURE_TEST_CASE(retry_calls_again, system_fixture,
                        *utf::label("policies")) {
  using actorflow::error_policy;
  using actorflow::failure_action;
  auto xs = random_values(33, 2000);
  { // flaky counts calls per value: make the values distinct
    std::set<i64> seen;
    xs.erase(std::remove_if(xs.begin(), xs.end(),
                            [&](i64 x) { return !seen.insert(x).second; }),
             xs.end());
  }
  std::vector<i64> all;
  std::vector<i64> steady; // items that fail at most once
  size_t retries2 = 0;     // calls that fail under retry(2)
  size_t retries1 = 0;     // of them, the ones retry(1) retries
  for (auto x : xs) {
    all.push_back(x - 5);
    retries2 += static_cast<size_t>(flakiness(x));
    retries1 += static_cast<size_t>(std::min(flakiness(x), 1));
    if (flakiness(x) < 2)
      steady.push_back(x - 5);
  }
  {
    failure_log log;
    auto got = value_of(actorflow::from(xs)
                          .then(flaky{}, {.on_error = error_policy::retry(2),
                                          .on_failure = log.listener()})
                          .collect()
                          .run(sys));
    BOOST_TEST(got == all);
    BOOST_TEST(log.count(failure_action::retry) == retries2);
    BOOST_TEST(log.all.size() == retries2);
  }
  {
    failure_log log;
    auto got = value_of(actorflow::from(xs)
                          .parallel_then(3, flaky{},
                                         {.on_error = error_policy::retry(2),
                                          .on_failure = log.listener()})
                          .collect()
                          .run(sys));
    BOOST_TEST(got == all);
    BOOST_TEST(log.count(failure_action::retry) == retries2);
  }
  {
    failure_log log;
    auto got
      = value_of(actorflow::from(xs)
                   .then(flaky{}, {.on_error = error_policy::retry(1).or_skip(),
                                   .on_failure = log.listener()})
                   .collect()
                   .run(sys));
    BOOST_TEST(got == steady);
    BOOST_TEST(log.count(failure_action::retry) == retries1);
    BOOST_TEST(log.count(failure_action::skip) == all.size() - steady.size());
  }
  // retry(1) without or_skip: the first item that fails twice ends the run.
  auto first = std::find_if(xs.begin(), xs.end(),
                            [](i64 x) { return flakiness(x) == 2; });
  BOOST_TEST_REQUIRE((first != xs.end()));
  auto index = static_cast<size_t>(first - xs.begin());
  auto err = error_of(actorflow::from(xs)
                        .then(flaky{}, {.on_error = error_policy::retry(1)})
                        .collect()
                        .run(sys));
  BOOST_TEST(has_code(err, error_code::worker_failed));
  BOOST_TEST(text(err)
             == "worker 'then#2' threw: item " + std::to_string(index)
                  + " (2 attempts): flaky " + std::to_string(*first));
}

//! Contract: a retry hands f a fresh copy of the item, also when f takes it
//! by value and moves from it, and also for a coroutine f.
BOOST_FIXTURE_TEST_CASE(retry_gets_a_fresh_copy, system_fixture,
                        *utf::label("policies")) {
  std::vector<std::string> words{"alpha", "beta", "gamma"};
  auto ro = actorflow::error_policy::retry(1);
  auto sync_f = [calls = 0](std::string s) mutable {
    auto taken = std::move(s); // leaves s empty
    if (calls++ % 2 == 0)
      throw std::runtime_error("once");
    return taken + "!";
  };
  auto got = value_of(
    actorflow::from(words).then(sync_f, {.on_error = ro}).collect().run(sys));
  BOOST_TEST(got == (std::vector<std::string>{"alpha!", "beta!", "gamma!"}));
  auto co_f
    = [calls = std::make_shared<int>(0)](std::string s) -> task<std::string> {
    auto taken = std::move(s);
    if ((*calls)++ % 2 == 0)
      throw std::runtime_error("once");
    co_return taken + "?";
  };
  auto got2 = value_of(
    actorflow::from(words).then(co_f, {.on_error = ro}).collect().run(sys));
  BOOST_TEST(got2 == (std::vector<std::string>{"alpha?", "beta?", "gamma?"}));
}

//! Contract: f may return caf::expected<U> (also from a coroutine): a value
//! passes on, an error counts as a failure like an exception. By default the
//! run ends with worker_failed "worker 'then#2' failed: item N: <error>";
//! skip drops the item; retry calls again.
BOOST_FIXTURE_TEST_CASE(expected_results, system_fixture,
                        *utf::label("policies")) {
  using actorflow::error_policy;
  auto f = [](int x) -> caf::expected<int> {
    if (x % 5 == 4)
      return actorflow::make_error(error_code::invalid_argument,
                                   "no " + std::to_string(x));
    return x * 10;
  };
  std::vector<int> want;
  for (int i = 0; i < 100; ++i)
    if (i % 5 != 4)
      want.push_back(i * 10);
  auto err = error_of(actorflow::iota(0, 100).then(f).collect().run(sys));
  BOOST_TEST(has_code(err, error_code::worker_failed));
  BOOST_TEST(text(err)
             == "worker 'then#2' failed: item 4: actorflow::invalid_argument: "
                "no 4");
  failure_log log;
  auto got = value_of(
    actorflow::iota(0, 100)
      .then(f, {.on_error = error_policy::skip(), .on_failure = log.listener()})
      .collect()
      .run(sys));
  BOOST_TEST(got == want);
  BOOST_TEST(log.all.size() == 20u);
  BOOST_TEST(log.all.front().returned);
  BOOST_TEST(log.all.front().what == "actorflow::invalid_argument: no 4");
  // A coroutine returning caf::expected, in parallel_then.
  auto co_f = [f](int x) -> task<caf::expected<int>> {
    co_return f(x);
  };
  auto got2
    = value_of(actorflow::iota(0, 100)
                 .parallel_then(2, co_f, {.on_error = error_policy::skip()})
                 .collect()
                 .run(sys));
  BOOST_TEST(got2 == want);
  auto err2 = error_of(
    actorflow::iota(0, 100).parallel_then(2, co_f).collect().run(sys));
  BOOST_TEST(has_code(err2, error_code::worker_failed));
  BOOST_TEST(actorflow_test::contains(text(err2), "failed: item "), text(err2));
  BOOST_TEST(actorflow_test::contains(text(err2),
                                      ": actorflow::invalid_argument: no "),
             text(err2));
  // Retried errors: an error on the first call only.
  auto once = [seen = std::set<int>{}](int x) mutable -> caf::expected<int> {
    if (seen.insert(x).second)
      return actorflow::make_error(error_code::invalid_argument, "first");
    return x;
  };
  auto got3 = value_of(actorflow::iota(0, 50)
                         .then(once, {.on_error = error_policy::retry(1)})
                         .collect()
                         .run(sys));
  BOOST_TEST(got3.size() == 50u);
}

BOOST_AUTO_TEST_SUITE_END()

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

size_t peak_of(caf::actor_system& sys, const caf::actor& whom) {
  caf::scoped_actor self{sys};
  size_t result = 0;
  self->request(whom, 5s, caf::get_atom_v)
    .receive([&](size_t peak) { result = peak; },
             [&](caf::error& err) {
               BOOST_ERROR("peak_of: " << actorflow::to_string_any(err));
             });
  return result;
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

/// How many different actors asked `gate`.
size_t askers_of(caf::actor_system& sys, const caf::actor& gate) {
  return peak_of(sys, gate); // same protocol: (get_atom) -> size_t
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
    auto f = [gate](int x) -> task<int> {
      auto r = co_await actorflow::ask<int>(gate, 30s, x);
      if (!r)
        throw std::runtime_error("ask: " + actorflow::to_string_any(r.error()));
      co_return *r;
    };
    auto got = value_of(run_bounded(make(f), sys));
    auto askers = askers_of(sys, gate);
    caf::anon_send_exit(gate, caf::exit_reason::user_shutdown);
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

// -- regressions ------------------------------------------------------------------

namespace {

/// A shorter watchdog than system_fixture's: these cases take milliseconds
/// when they work and hang forever when they do not.
struct short_fixture {
  actorflow_test::watchdog dog{10s};
  caf::actor_system_config cfg;
  caf::actor_system sys{actorflow_test::prepare(cfg)};
};

} // namespace

//! Contract: parallel_then terminates with the right result for every
//! window, also when the window equals the worker count and every channel
//! moves single items (batch 1). Found by randomized_pipelines (seed
//! 0xF10'0000 + 148): these configurations hung deterministically; all
//! stages ended up blocked, with a stage worker waiting forever for credit
//! on the results channel while the gather waited for its results.
BOOST_FIXTURE_TEST_CASE(parallel_then_window_equal_to_workers_batch_one,
                        short_fixture, *utf::label("order")) {
  struct config {
    size_t n;
    size_t window;
    size_t capacity;
  };
  for (auto c : {config{4, 4, 4}, config{4, 4, 1024}, config{4, 6, 4},
                 config{5, 5, 16}, config{8, 8, 16}}) {
    BOOST_TEST_CONTEXT("n " << c.n << ", window " << c.window << ", capacity "
                            << c.capacity) {
      auto got = value_of(
        run_bounded(actorflow::iota(0, 20)
                      .parallel_then(
                        c.n, [](int x) { return x + 1; }, c.window)
                      .collect(),
                    sys, run_options{.capacity = c.capacity, .batch = 1}, 3s));
      std::vector<int> want(20);
      std::iota(want.begin(), want.end(), 1);
      BOOST_TEST(got == want);
    }
  }
}

// -- randomized pipelines ------------------------------------------------------

namespace {

enum class op_kind { add, mulmod, filter, take, par, par_unordered };

/// One randomly chosen operator.
struct op {
  op_kind kind = op_kind::add;
  i64 a = 0;           // add: k; mulmod: k; filter: divisor; take: k
  i64 b = 1;           // mulmod: modulus; filter: remainder to drop
  bool mul = false;    // par*: f is mulmod (else add)
  bool co = false;     // then/par*: f is a coroutine returning task<i64>
  size_t workers = 1;  // par*
  size_t window = 0;   // par*
  size_t capacity = 0; // then/filter/take: stage_options::capacity
};

i64 apply_fn(const op& o, i64 x) {
  return o.mul ? (x * o.a) % o.b : x + o.a;
}

std::string describe(const op& o) {
  std::ostringstream os;
  auto fn = [&] {
    if (o.mul)
      os << "*" << o.a << "%" << o.b;
    else
      os << "+" << o.a;
    if (o.co)
      os << " (task)";
  };
  switch (o.kind) {
    case op_kind::add:
    case op_kind::mulmod:
      os << "then(";
      fn();
      os << ")";
      break;
    case op_kind::filter:
      os << "filter(x%" << o.a << "!=" << o.b << ")";
      break;
    case op_kind::take:
      os << "take(" << o.a << ")";
      break;
    case op_kind::par:
    case op_kind::par_unordered:
      os << (o.kind == op_kind::par ? "parallel_then("
                                    : "parallel_then_unordered(")
         << o.workers << ", ";
      fn();
      os << ", window " << o.window << ")";
      break;
  }
  if (o.capacity != 0)
    os << "[cap " << o.capacity << "]";
  return os.str();
}

template <class T>
T pick(std::mt19937_64& rng, std::initializer_list<T> xs) {
  return *(xs.begin() + static_cast<ptrdiff_t>(rng() % xs.size()));
}

/// A random chain of 1..5 operators. No take after an unordered stage: which
/// items a take keeps from an unordered stream is not defined.
std::vector<op> random_chain(std::mt19937_64& rng) {
  std::vector<op> ops(1 + rng() % 5);
  bool unordered = false;
  for (auto& o : ops) {
    auto kinds = unordered ? 5u : 6u;
    switch (rng() % kinds) {
      case 0:
        o.kind = op_kind::add;
        break;
      case 1:
        o.kind = op_kind::mulmod;
        break;
      case 2:
        o.kind = op_kind::filter;
        break;
      case 3:
        o.kind = op_kind::par;
        break;
      case 4:
        o.kind = op_kind::par_unordered;
        unordered = true;
        break;
      default:
        o.kind = op_kind::take;
    }
    switch (o.kind) {
      case op_kind::add:
        o.a = static_cast<i64>(rng() % 2001) - 1000;
        o.co = rng() % 4 == 0;
        break;
      case op_kind::mulmod:
        o.mul = true;
        o.a = static_cast<i64>(rng() % 1000) + 1;
        o.b = static_cast<i64>(rng() % 1'000'000) + 1;
        o.co = rng() % 4 == 0;
        break;
      case op_kind::filter:
        o.a = static_cast<i64>(rng() % 5) + 1; // 1 drops everything
        o.b = static_cast<i64>(rng() % static_cast<uint64_t>(o.a));
        break;
      case op_kind::take:
        o.a = pick<i64>(rng, {0, 1, 5, 100, 1000, 5000});
        break;
      case op_kind::par:
      case op_kind::par_unordered:
        o.mul = rng() % 2 == 0;
        o.a = o.mul ? static_cast<i64>(rng() % 1000) + 1
                    : static_cast<i64>(rng() % 2001) - 1000;
        o.b = static_cast<i64>(rng() % 1'000'000) + 1;
        o.co = rng() % 4 == 0;
        o.workers = pick<size_t>(rng, {1, 2, 3, 4, 8});
        o.window = pick<size_t>(rng, {0, 0, 1, 2, 8, 100});
        break;
    }
    if (o.kind != op_kind::par && o.kind != op_kind::par_unordered)
      o.capacity = pick<size_t>(rng, {0, 0, 0, 1, 2, 3, 16});
  }
  return ops;
}

/// The sequential meaning of a chain: its items, and whether their order is
/// defined.
struct reference {
  std::vector<i64> items;
  bool ordered = true;
};

reference evaluate(std::vector<i64> xs, const std::vector<op>& ops) {
  reference ref;
  for (const auto& o : ops) {
    std::vector<i64> ys;
    switch (o.kind) {
      case op_kind::add:
      case op_kind::mulmod:
      case op_kind::par:
      case op_kind::par_unordered:
        std::transform(xs.begin(), xs.end(), std::back_inserter(ys),
                       [&o](i64 x) { return apply_fn(o, x); });
        break;
      case op_kind::filter:
        std::copy_if(xs.begin(), xs.end(), std::back_inserter(ys),
                     [&o](i64 x) { return x % o.a != o.b; });
        break;
      case op_kind::take:
        ys.assign(xs.begin(), xs.begin()
                                + static_cast<ptrdiff_t>(std::min(
                                  xs.size(), static_cast<size_t>(o.a))));
        break;
    }
    if (o.kind == op_kind::par_unordered)
      ref.ordered = false;
    xs = std::move(ys);
  }
  ref.items = std::move(xs);
  return ref;
}

/// The function of a then/parallel_then stage, plain or as a coroutine.
template <class Fn>
void with_fn(const op& o, Fn&& fn) {
  if (o.co)
    fn([o](i64 x) -> task<i64> { co_return apply_fn(o, x); });
  else
    fn([o](i64 x) { return apply_fn(o, x); });
}

actorflow::flow<i64> append(actorflow::flow<i64> fl, const op& o) {
  stage_options so{.capacity = o.capacity};
  std::optional<actorflow::flow<i64>> out;
  switch (o.kind) {
    case op_kind::add:
    case op_kind::mulmod:
      with_fn(o, [&](auto f) { out.emplace(std::move(fl).then(f, so)); });
      break;
    case op_kind::filter:
      out.emplace(std::move(fl).filter(
        [a = o.a, b = o.b](i64 x) { return x % a != b; }, so));
      break;
    case op_kind::take:
      out.emplace(std::move(fl).take(static_cast<size_t>(o.a), so));
      break;
    case op_kind::par:
      with_fn(o, [&](auto f) {
        out.emplace(std::move(fl).parallel_then(o.workers, f, o.window));
      });
      break;
    case op_kind::par_unordered:
      with_fn(o, [&](auto f) {
        out.emplace(
          std::move(fl).parallel_then_unordered(o.workers, f, o.window));
      });
      break;
  }
  return std::move(*out);
}

enum class source_kind { container, generator, receiver };
enum class sink_kind { collect, fold, for_each, to_sender };

/// Runs one random pipeline (everything drawn from `seed`) and compares it
/// with its sequential evaluation.
void run_random_case(caf::actor_system& sys, uint64_t seed) {
  std::mt19937_64 rng{seed};
  // Mostly small inputs, some up to 2000 items.
  size_t n = 0;
  switch (rng() % 10) {
    case 0:
      n = rng() % 4;
      break;
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
      n = rng() % 200;
      break;
    default:
      n = rng() % 2001;
  }
  auto xs = random_values(rng(), n);
  auto ops = random_chain(rng);
  run_options ro;
  ro.capacity = pick<size_t>(rng, {1, 2, 3, 16, 1024});
  ro.batch = pick<uint32_t>(rng, {0, 0, 0, 1, 2, 7});
  auto src = pick(rng, {source_kind::container, source_kind::container,
                        source_kind::generator, source_kind::receiver});
  auto snk = pick(rng, {sink_kind::collect, sink_kind::collect, sink_kind::fold,
                        sink_kind::for_each, sink_kind::to_sender});
  std::ostringstream desc;
  desc << "seed " << seed << ", n " << n << ", capacity " << *ro.capacity
       << ", batch " << ro.batch << ", source " << static_cast<int>(src)
       << ", sink " << static_cast<int>(snk) << ", chain:";
  for (const auto& o : ops)
    desc << ' ' << describe(o);
  if (std::getenv("FLOW_TEST_TRACE") != nullptr)
    std::fprintf(stderr, "%s\n", desc.str().c_str());
  BOOST_TEST_CONTEXT(desc.str()) {
    auto want = evaluate(xs, ops);
    // -- source --
    std::optional<actorflow::flow<i64>> fl;
    std::jthread feeder;
    switch (src) {
      case source_kind::container:
        fl.emplace(actorflow::from(xs));
        break;
      case source_kind::generator:
        fl.emplace(
          actorflow::generate([data = std::make_shared<std::vector<i64>>(xs),
                               i = size_t{0}]() mutable {
            return i < data->size() ? std::optional<i64>{(*data)[i++]}
                                    : std::nullopt;
          }));
        break;
      case source_kind::receiver: {
        auto ch = actorflow::channel<i64>(sys, *ro.capacity);
        BOOST_TEST_REQUIRE(static_cast<bool>(ch));
        auto [tx, rx] = std::move(*ch);
        fl.emplace(actorflow::from(std::move(rx)));
        // The pipeline may stop reading early (take); a failed send ends.
        feeder = std::jthread{[&xs, tx = std::move(tx)]() mutable {
          for (auto x : xs)
            if (!tx.blocking_send(x))
              break;
          tx.close();
        }};
        break;
      }
    }
    for (const auto& o : ops)
      fl.emplace(append(std::move(*fl), o));
    // -- sink --
    std::vector<i64> got;
    caf::error err;
    switch (snk) {
      case sink_kind::collect: {
        auto res = run_bounded(std::move(*fl).collect(), sys, ro);
        if (res)
          got = std::move(*res);
        else
          err = res.error();
        break;
      }
      case sink_kind::fold: {
        auto res
          = run_bounded(std::move(*fl).fold(std::vector<i64>{},
                                            [](std::vector<i64>& acc, i64 x) {
                                              acc.push_back(x);
                                              return std::move(acc);
                                            }),
                        sys, ro);
        if (res)
          got = std::move(*res);
        else
          err = res.error();
        break;
      }
      case sink_kind::for_each: {
        auto res = run_bounded(
          std::move(*fl).for_each([&got](i64 x) { got.push_back(x); }), sys,
          ro);
        if (!res)
          err = res.error();
        break;
      }
      case sink_kind::to_sender: {
        auto ch = actorflow::channel<i64>(sys, *ro.capacity);
        BOOST_TEST_REQUIRE(static_cast<bool>(ch));
        auto [tx, rx] = std::move(*ch);
        std::jthread reader{[&got, rx = std::move(rx)]() mutable {
          while (auto x = rx.blocking_recv())
            got.push_back(*x);
        }};
        auto res = run_bounded(std::move(*fl).to(std::move(tx)), sys, ro);
        reader.join();
        if (!res)
          err = res.error();
        break;
      }
    }
    if (feeder.joinable())
      feeder.join();
    BOOST_TEST_REQUIRE(!err, actorflow::to_string_any(err));
    if (!want.ordered) {
      got = sorted(std::move(got));
      want.items = sorted(std::move(want.items));
    }
    if (got != want.items) {
      size_t i = 0;
      while (i < got.size() && i < want.items.size() && got[i] == want.items[i])
        ++i;
      BOOST_ERROR("mismatch: got " << got.size() << " items, want "
                                   << want.items.size()
                                   << ", first difference at index " << i);
    }
  }
}

#if FLOW_TEST_ASAN
constexpr int random_cases_per_batch = 20;
#else
constexpr int random_cases_per_batch = 50;
#endif

/// Runs batch `batch` of the randomized pipelines (seeds are fixed).
void run_random_batch(caf::actor_system& sys, int batch) {
  auto start = clock_type::now();
  for (int i = 0; i < random_cases_per_batch; ++i)
    run_random_case(
      sys,
      0xF10'0000u + static_cast<uint64_t>(batch * random_cases_per_batch + i));
  BOOST_TEST_MESSAGE(
    "batch " << batch << ": " << random_cases_per_batch << " pipelines in "
             << std::chrono::duration_cast<std::chrono::milliseconds>(
                  clock_type::now() - start)
                  .count()
             << " ms");
}

} // namespace

// Contract of every randomized_pipelines_N case: a random chain of 1-5 of
// then/filter/take/parallel_then/parallel_then_unordered over a random
// source (container, generator, receiver fed by a thread), sink (collect,
// fold, for_each, to(sender) read by a thread), capacity and batch size
// yields exactly what the sequential evaluation of the same chain yields (as
// a multiset after an unordered stage). 10 batches of 50 fixed seeds,
// 0xF10'0000 + 0..499 (under ASan 20 per batch: the first 200 of them); a
// failure prints the seed and the chain, a hang is cancelled after 10 s.
#define FLOW_RANDOM_BATCH(n)                                                   \
  BOOST_FIXTURE_TEST_CASE(randomized_pipelines_##n, system_fixture,            \
                          *utf::label("random")) {                             \
    run_random_batch(sys, n);                                                  \
  }

//! Contract: randomized pipelines, batch 0 (see above).
FLOW_RANDOM_BATCH(0)
//! Contract: randomized pipelines, batch 1 (see above).
FLOW_RANDOM_BATCH(1)
//! Contract: randomized pipelines, batch 2 (see above).
FLOW_RANDOM_BATCH(2)
//! Contract: randomized pipelines, batch 3 (see above).
FLOW_RANDOM_BATCH(3)
//! Contract: randomized pipelines, batch 4 (see above).
FLOW_RANDOM_BATCH(4)
//! Contract: randomized pipelines, batch 5 (see above).
FLOW_RANDOM_BATCH(5)
//! Contract: randomized pipelines, batch 6 (see above).
FLOW_RANDOM_BATCH(6)
//! Contract: randomized pipelines, batch 7 (see above).
FLOW_RANDOM_BATCH(7)
//! Contract: randomized pipelines, batch 8 (see above).
FLOW_RANDOM_BATCH(8)
//! Contract: randomized pipelines, batch 9 (see above).
FLOW_RANDOM_BATCH(9)
