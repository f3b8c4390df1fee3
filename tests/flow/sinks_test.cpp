// Black-box tests of the stream DSL's sinks (actorflow/flow.hpp): fold,
// collect, for_each and to(tx) into an existing channel read by a thread,
// against sequential references (std algorithms) on random data with fixed
// seeds.

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

BOOST_AUTO_TEST_SUITE(sinks)

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

BOOST_AUTO_TEST_SUITE_END()
