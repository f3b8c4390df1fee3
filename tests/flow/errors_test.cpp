// Errors and misuse in the stream DSL (actorflow/flow.hpp): an exception in
// any stage's user function names the stage and the item, a failure behind
// an endless source ends the run, and invalid arguments, moved-from builders
// and pipelines, capacity 0 and a second run over a channel end fail with
// the right error code.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

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
