// Tee branches of the stream DSL (actorflow/flow/tee.hpp): a branch sees every
// item in order, a slow branch paces the whole stream, errors and early ends
// of either side, and branches that cannot be embedded.

#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

// -- tee ----------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(tee_branches)

//! Contract: the branch sees every item in order, and the main stream
//! continues unchanged (a sequential reference computes both).
BOOST_FIXTURE_TEST_CASE(matches_sequential_reference, system_fixture,
                        *utf::label("tee")) {
  std::vector<int> branch_a;
  std::vector<int> branch_b;
  auto main = value_of(run_bounded(
    actorflow::iota(0, 3000)
      .then([](int x) { return x * 3 + 1; })
      .tee([&](actorflow::flow<int> all) {
        return std::move(all)
          .filter([](int x) { return x % 2 == 0; })
          .for_each([&](int x) { branch_a.push_back(x); });
      })
      .then([](int x) { return x - 1; })
      .tee([&](actorflow::flow<int> all) {
        return std::move(all).for_each([&](int x) { branch_b.push_back(x); });
      })
      .collect(),
    sys));
  std::vector<int> want_a;
  std::vector<int> want_main;
  for (int i = 0; i < 3000; ++i) {
    auto y = i * 3 + 1;
    if (y % 2 == 0)
      want_a.push_back(y);
    want_main.push_back(y - 1);
  }
  BOOST_TEST(branch_a == want_a);
  BOOST_TEST(branch_b == want_main);
  BOOST_TEST(main == want_main);
}

//! Contract: a slow branch paces the whole stream: the source is never more
//! than the channels' capacities ahead of the branch, and the main sink
//! never more than one channel ahead of it.
BOOST_FIXTURE_TEST_CASE(slow_branch_sets_the_pace, system_fixture,
                        *utf::label("tee") * utf::label("bounded")) {
  std::atomic<int64_t> emitted{0};
  std::atomic<int64_t> branch_seen{0};
  std::atomic<int64_t> main_seen{0};
  std::atomic<int64_t> max_source_lead{0};
  std::atomic<int64_t> max_main_lead{0};
  auto bump = [](std::atomic<int64_t>& max, int64_t x) {
    auto prev = max.load();
    while (x > prev && !max.compare_exchange_weak(prev, x)) {
      // retry
    }
  };
  run_options ro;
  ro.capacity = 8;
  auto res = run_bounded(
    actorflow::generate([&, i = 0]() mutable -> std::optional<int> {
      if (i == 2000)
        return std::nullopt;
      ++emitted;
      return i++;
    })
      .tee([&](actorflow::flow<int> all) {
        return std::move(all).for_each([&](int) {
          actorflow_test::spin_for(5us);
          ++branch_seen;
          bump(max_source_lead, emitted.load() - branch_seen.load());
        });
      })
      .for_each([&](int) {
        ++main_seen;
        bump(max_main_lead, main_seen.load() - branch_seen.load());
      }),
    sys, ro);
  BOOST_TEST(static_cast<bool>(res));
  BOOST_TEST(branch_seen.load() == 2000);
  BOOST_TEST(main_seen.load() == 2000);
  // The item in the source's hand (counted when generated) + source -> tee
  // channel (8) + the item in the tee + tee -> branch (8) + the item in the
  // branch's hand (counted when done). Unpaced, the lead would reach 2000.
  BOOST_TEST(max_source_lead.load() <= 1 + 8 + 1 + 8 + 1,
             "source lead " << max_source_lead.load());
  // Item k reaches main only after the branch's channel (8) took it; the
  // branch may hold one more in hand (+1), and the two counters are read at
  // different moments (+1).
  BOOST_TEST(max_main_lead.load() <= 8 + 1 + 1,
             "main lead " << max_main_lead.load());
}

//! Contract: a failing branch fails (and stops) the whole pipeline, even
//! behind an endless source; a branch that stops early (take) leaves the
//! main stream whole, and a main stream that stops early leaves the branch
//! whole.
BOOST_FIXTURE_TEST_CASE(branch_errors_and_early_ends, system_fixture,
                        *utf::label("tee") * utf::label("errors")) {
  auto err
    = error_of(run_bounded(actorflow::iota(0)
                             .tee([](actorflow::flow<int> all) {
                               return std::move(all).for_each([](int x) {
                                 if (x == 50)
                                   throw std::runtime_error("branch broke");
                               });
                             })
                             .for_each([](int) {}),
                           sys));
  BOOST_TEST(contains(text(err), "branch broke"), text(err));
  // iota#1, tee#2, the branch's sink#3, the main sink#4.
  BOOST_TEST(contains(text(err), "worker 'sink#3' threw: item 50"), text(err));
  std::vector<int> few;
  auto all = value_of(run_bounded(actorflow::iota(0, 1000)
                                    .tee([&](actorflow::flow<int> f) {
                                      return std::move(f).take(3).for_each(
                                        [&](int x) { few.push_back(x); });
                                    })
                                    .collect(),
                                  sys));
  BOOST_TEST(all == iota_vec(1000));
  BOOST_TEST(few == (std::vector<int>{0, 1, 2}));
  std::vector<int> whole;
  auto head = value_of(run_bounded(actorflow::iota(0, 1000)
                                     .tee([&](actorflow::flow<int> f) {
                                       return std::move(f).for_each(
                                         [&](int x) { whole.push_back(x); });
                                     })
                                     .take(3)
                                     .collect(),
                                   sys));
  BOOST_TEST(head == (std::vector<int>{0, 1, 2}));
  BOOST_TEST(whole == iota_vec(1000));
}

//! Contract: a branch that cannot be embedded gives a clear error, not a
//! silent no-op.
BOOST_FIXTURE_TEST_CASE(bad_branches, system_fixture,
                        *utf::label("tee") * utf::label("errors")) {
  auto err = error_of(run_bounded(actorflow::iota(0, 10)
                                    .tee([](actorflow::flow<int> f) {
                                      return std::move(f).reduce(
                                        [](int a, int b) { return a + b; });
                                    })
                                    .collect(),
                                  sys));
  BOOST_TEST(has_code(err, error_code::invalid_argument));
  BOOST_TEST(contains(text(err), "reduce"), text(err));
  auto err2 = error_of(run_bounded(actorflow::iota(0, 10)
                                     .tee([](actorflow::flow<int>) {
                                       return actorflow::iota(0, 3).for_each(
                                         [](int) {});
                                     })
                                     .collect(),
                                   sys));
  BOOST_TEST(has_code(err2, error_code::invalid_argument));
  BOOST_TEST(contains(text(err2), "does not read the flow"), text(err2));
}

BOOST_AUTO_TEST_SUITE_END()
