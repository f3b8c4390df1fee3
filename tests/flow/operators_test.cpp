// Black-box tests of the stream DSL's operators (actorflow/flow.hpp): then,
// filter, inspect, take, conflate, parallel_then and parallel_then_unordered
// against a sequential reference (std algorithms) on random data with fixed
// seeds; a coroutine stage asking a CAF actor; builders as values; compose.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actorflow/ask.hpp"
#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

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

//! Contract: compose(f) is f applied to the flow: a piece written once as a
//! function of a flow chains with dots and gives what the inline chain
//! gives; it may change the item type, end in a sink (then compose returns
//! the pipeline), and an error inside it reaches run().
BOOST_FIXTURE_TEST_CASE(compose_equals_the_inline_chain, system_fixture,
                        *utf::label("operators")) {
  auto xs = random_values(61, 2000);
  auto scale_and_keep_even = [](actorflow::flow<i64> in) {
    return std::move(in)
      .then([](i64 x) { return x * 3; })
      .filter([](i64 x) { return x % 2 == 0; })
      .parallel_then(2, [](i64 x) { return std::to_string(x); });
  };
  std::vector<std::string> want;
  for (auto x : xs)
    if ((x * 3) % 2 == 0)
      want.push_back(std::to_string(x * 3));
  auto got = value_of(actorflow::from(xs)
                        .compose(scale_and_keep_even)
                        .then([](const std::string& s) { return s; })
                        .collect()
                        .run(sys));
  BOOST_TEST(got == want);
  // The same piece again (f is called once per compose, and is reusable),
  // ending in a sink.
  size_t count = 0;
  auto counted = actorflow::from(xs).compose([&](actorflow::flow<i64> in) {
    return scale_and_keep_even(std::move(in)).for_each([&](const std::string&) {
      ++count;
    });
  });
  BOOST_TEST_REQUIRE(static_cast<bool>(std::move(counted).run(sys)));
  BOOST_TEST(count == want.size());
  // An error inside the piece is the pipeline's.
  auto err = error_of(
    actorflow::from(xs)
      .compose([](actorflow::flow<i64> in) {
        return std::move(in).parallel_then(0, [](i64 x) { return x; });
      })
      .collect()
      .run(sys));
  BOOST_TEST(has_code(err, actorflow::error_code::invalid_argument));
}

//! Contract: conflate(merge) passes items while the downstream has credit
//! and merges them while it has none: a blocked consumer gets a few items
//! and then their merge. Nothing is lost, and order holds: every output is
//! the merge (here the sum) of a run of consecutive inputs.
BOOST_FIXTURE_TEST_CASE(conflate_merges_while_the_consumer_is_behind,
                        system_fixture, *utf::label("operators")) {
  auto a = actorflow::channel<int>(sys, 128);
  auto b = actorflow::channel<int>(sys, 1);
  BOOST_REQUIRE(a && b);
  actorflow::stage_options one;
  one.capacity = 1; // what conflate may send ahead
  auto run = actorflow::from(std::move(a->rx))
               .conflate([](int held, int x) { return held + x; })
               .to(std::move(b->tx), one)
               .start(sys);
  auto taken = [&] {
    for (auto& s : run.stats().stages)
      if (s.name.rfind("conflate", 0) == 0)
        return s.items_in;
    return uint64_t{0};
  };
  // The consumer takes nothing until conflate took all 100 items.
  constexpr int n = 100;
  for (int x = 1; x <= n; ++x)
    BOOST_REQUIRE(a->tx.blocking_send(x));
  BOOST_REQUIRE_MESSAGE(eventually([&] { return taken() == n; }),
                        "the stage took " << taken() << " of " << n);
  a->tx.close();
  std::vector<int> out;
  while (auto x = b->rx.blocking_recv())
    out.push_back(*x);
  BOOST_TEST(static_cast<bool>(run.wait()));
  // Each output's running total is a running total of the inputs.
  std::set<int> totals;
  for (int x = 1, sum = 0; x <= n; ++x)
    totals.insert(sum += x);
  int sum = 0;
  for (auto x : out)
    BOOST_TEST(totals.count(sum += x) == 1u, "output " << x
                                                       << " merged "
                                                          "non-consecutive "
                                                          "items");
  BOOST_TEST(sum == n * (n + 1) / 2, "items lost or duplicated");
  // At most what the blocked downstream holds passed alone: the to stage's
  // input (1), the item in its hand and the consumer's channel (1).
  BOOST_TEST(out.size() <= 4u, out.size() << " outputs for " << n << " inputs");
}

BOOST_AUTO_TEST_SUITE_END()
