// Error policies of the stream DSL (actorflow/error_policy.hpp): skip and
// retry in every operator that calls user code, on_failure reports, a fresh
// copy of the item per retry, and user functions returning caf::expected,
// against sequential references on random data with fixed seeds.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/expected.hpp>

#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

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
