// Black-box tests of the stream DSL's sources (actorflow/flow.hpp): from(rx)
// over an existing channel fed by a thread, generate, and the endless repeat
// and iota (with take), zip and combine_latest, against sequential
// references. from(container) and iota(a, b) run in every other suite.

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

//! Contract: zip(a, b) pairs the i-th items of a and b in order, ends with
//! the shorter input, and stops the other one (an endless source here).
BOOST_FIXTURE_TEST_CASE(zip_pairs_in_order_and_ends_with_the_shorter,
                        system_fixture, *utf::label("operators")) {
  for (size_t cap : {size_t{1}, size_t{64}}) {
    auto evens = actorflow::iota(i64{0}).then([](i64 x) { return 2 * x; });
    auto res = actorflow::zip(actorflow::iota(0, 3000), std::move(evens))
                 .collect()
                 .run(sys, run_options{.capacity = cap});
    auto pairs = value_of(std::move(res));
    std::vector<std::pair<int, i64>> want;
    for (int i = 0; i < 3000; ++i)
      want.emplace_back(i, 2 * i64{i});
    BOOST_TEST((pairs == want), "capacity " << cap);
  }
  // Items that own memory: each pair is built and sent exactly once.
  auto text = [](int x) {
    return std::string(40, 'a') + std::to_string(x);
  };
  auto res = actorflow::zip(actorflow::iota(0, 500).then(text),
                            actorflow::iota(0, 600).then(text))
               .enumerate()
               .collect()
               .run(sys);
  auto pairs = value_of(std::move(res));
  BOOST_TEST_REQUIRE(pairs.size() == 500u);
  for (int i = 0; i < 500; ++i)
    BOOST_TEST(
      (pairs[i] == std::pair{uint64_t(i), std::pair{text(i), text(i)}}));
}

//! Contract: combine_latest(a, b) sends nothing until both inputs sent an
//! item, then pairs every new item with the latest of the other input; it
//! ends when both inputs ended.
BOOST_FIXTURE_TEST_CASE(combine_latest_pairs_with_the_latest, system_fixture,
                        *utf::label("operators")) {
  auto a = actorflow::channel<int>(sys, 8);
  auto b = actorflow::channel<std::string>(sys, 8);
  auto c = actorflow::channel<std::pair<int, std::string>>(sys, 8);
  BOOST_REQUIRE(a && b && c);
  auto run = actorflow::combine_latest(actorflow::from(std::move(a->rx)),
                                       actorflow::from(std::move(b->rx)))
               .to(std::move(c->tx))
               .start(sys);
  using out = std::optional<std::pair<int, std::string>>;
  BOOST_REQUIRE(a->tx.blocking_send(1));
  BOOST_REQUIRE(a->tx.blocking_send(2)); // replaces 1: b has sent nothing
  BOOST_REQUIRE(b->tx.blocking_send("x"));
  BOOST_TEST((c->rx.blocking_recv() == out{{2, "x"}}));
  BOOST_REQUIRE(b->tx.blocking_send("y"));
  BOOST_TEST((c->rx.blocking_recv() == out{{2, "y"}}));
  a->tx.close(); // b goes on with the latest of a
  BOOST_REQUIRE(b->tx.blocking_send("z"));
  BOOST_TEST((c->rx.blocking_recv() == out{{2, "z"}}));
  b->tx.close();
  BOOST_TEST(!c->rx.blocking_recv(), "end of stream");
  BOOST_TEST(static_cast<bool>(run.wait()));
}

//! Contract: an error of either input of zip or combine_latest is the
//! error of the combined flow.
BOOST_FIXTURE_TEST_CASE(an_input_error_is_the_combined_error, system_fixture,
                        *utf::label("errors")) {
  auto bad = [] {
    return actorflow::iota(0, 10).batch(0);
  };
  auto z = actorflow::zip(actorflow::iota(0, 10), bad()).collect().run(sys);
  BOOST_REQUIRE(!z);
  BOOST_TEST(has_code(z.error(), actorflow::error_code::invalid_argument));
  auto c = actorflow::combine_latest(bad(), actorflow::iota(0, 10))
             .collect()
             .run(sys);
  BOOST_REQUIRE(!c);
  BOOST_TEST(has_code(c.error(), actorflow::error_code::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()
