// Black-box tests of the stream DSL's sources (actorflow/flow.hpp): from(rx)
// over an existing channel fed by a thread, generate, and the endless repeat
// and iota (with take), against sequential references. from(container) and
// iota(a, b) run in every other suite.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

BOOST_AUTO_TEST_SUITE(sources)

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

BOOST_AUTO_TEST_SUITE_END()
