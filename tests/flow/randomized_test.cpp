// Randomized pipelines of the stream DSL (actorflow/flow.hpp): random
// chains of operators over random sources, sinks, capacities and batch sizes,
// from fixed seeds, against their sequential evaluation.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

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

// Fewer under the sanitizers, which run each case several times slower.
constexpr int random_cases_per_batch = asan_build || tsan_build ? 20 : 50;

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
