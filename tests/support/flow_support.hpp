// Helpers shared by the stream-DSL suites in tests/flow/ (not a suite
// itself): the names they use unqualified (`using namespace actorflow_test`),
// reference data, CAF actors that stand for an existing actor application,
// and instruments that more than one suite measures with.

#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "support/test_support.hpp"

namespace actorflow_test {

// -- vocabulary ------------------------------------------------------------------

using actorflow::error_code;
using actorflow::run_options;
using actorflow::stage_options;
using actorflow::task;

using i64 = int64_t;
using clock_type = std::chrono::steady_clock;

using stop_atom = caf::atom_constant<caf::atom("stop")>;
using go_atom = caf::atom_constant<caf::atom("go")>;

// -- reference data --------------------------------------------------------------

/// `n` values drawn uniformly from [lo, hi] by a generator seeded with `seed`.
inline std::vector<i64> random_values(uint64_t seed, size_t n, i64 lo = 0,
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

/// 0, 1, ..., n-1.
inline std::vector<int> iota_vec(int n) {
  std::vector<int> xs(static_cast<size_t>(n));
  std::iota(xs.begin(), xs.end(), 0);
  return xs;
}

// -- actors outside actorflow ----------------------------------------------------

/// A CAF actor outside actorflow: replies x * 3.
inline caf::behavior tripler_impl() {
  return {[](int x) {
    return x * 3;
  }};
}

/// The size_t that `whom` answers to (get_atom): the peak of requests a
/// withholding actor held (concurrency_test), the askers a gate counted
/// (options_test).
inline size_t peak_of(caf::actor_system& sys, const caf::actor& whom) {
  caf::scoped_actor self{sys};
  size_t result = 0;
  self->request(whom, 5s, caf::get_atom_v)
    .receive([&](size_t peak) { result = peak; },
             [&](caf::error& err) {
               BOOST_ERROR("peak_of: " << actorflow::to_string_any(err));
             });
  return result;
}

/// Instruments shared by a producer actor and the pipeline's sink.
struct flow_meter {
  std::atomic<int64_t> sent{0};     // items the producer replied with
  std::atomic<int64_t> consumed{0}; // items the sink saw
  std::atomic<int64_t> max_in_flight{0};
  std::atomic<uint32_t> max_demand{0};
  std::atomic<int64_t> pulls{0};

  /// Called by the sink for each item, before it counts as consumed: the
  /// item in hand is still in flight.
  void on_consumed() {
    auto in_flight = sent.load() - consumed.fetch_add(1);
    auto prev = max_in_flight.load();
    while (in_flight > prev
           && !max_in_flight.compare_exchange_weak(prev, in_flight)) {
      // retry
    }
  }
};

/// A synchronous producer of 0, 1, ..., n-1 that counts what it sends.
inline caf::behavior counting_producer(int n, std::shared_ptr<flow_meter> m) {
  auto next = std::make_shared<int>(0);
  return {
    [n, m, next](actorflow::demand_atom, uint32_t demand) {
      ++m->pulls;
      auto prev = m->max_demand.load();
      while (demand > prev
             && !m->max_demand.compare_exchange_weak(prev, demand))
        ;
      std::vector<int> xs;
      while (xs.size() < demand && *next < n)
        xs.push_back((*next)++);
      m->sent += static_cast<int64_t>(xs.size());
      return xs;
    },
  };
}

/// A consumer that keeps everything it gets; `get` returns it.
inline caf::behavior collecting_consumer(caf::event_based_actor*) {
  auto got = std::make_shared<std::vector<int>>();
  return {
    [got](actorflow::batch_atom, std::vector<int>& xs) {
      got->insert(got->end(), xs.begin(), xs.end());
    },
    [got](caf::get_atom) { return *got; },
  };
}

/// What a collecting_consumer got so far.
inline std::vector<int> contents(caf::actor_system& sys, const caf::actor& a) {
  caf::scoped_actor self{sys};
  std::vector<int> result;
  self->request(a, 5s, caf::get_atom::value)
    .receive([&](std::vector<int>& xs) { result = std::move(xs); },
             [&](caf::error& err) {
               BOOST_ERROR("get failed: " << actorflow::to_string_any(err));
             });
  return result;
}

// -- instruments -----------------------------------------------------------------

/// Runs iota(0, items).parallel_then(n, f, window) where item 0 is
/// pathologically slow: it busy-waits until no other item can start any
/// more (the count of items that entered f stops growing for 100 ms), or
/// until that count exceeds `limit` (no reason to wait further), or 5 s
/// passed. Returns the number of items that entered f before item 0
/// finished (item 0 included).
inline size_t started_while_head_is_slow(caf::actor_system& sys, size_t n,
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

} // namespace actorflow_test
