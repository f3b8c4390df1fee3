// Pipelines fed by and feeding existing CAF actors (actorflow/flow/actor_io.hpp):
// an existing actor feeding a pipeline under credit (from_actor,
// actor_source_queue), and a pipeline delivering into an existing actor with
// bounded unacknowledged batches (to_actor).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/response_promise.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

namespace {

using release_atom = caf::atom_constant<caf::atom("release")>;

} // namespace

// -- from_actor ---------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(from_actor_source)

//! Contract: every item the producer sends reaches the pipeline exactly once
//! and in order; an empty reply ends the stream.
BOOST_FIXTURE_TEST_CASE(exactly_once_in_order, system_fixture,
                        *utf::label("actor_io")) {
  auto m = std::make_shared<flow_meter>();
  auto producer = sys.spawn(counting_producer, 10000, m);
  actorflow::actor_source_options opts;
  opts.credit = 16;
  auto got = value_of(
    run_bounded(actorflow::from_actor<int>(producer, opts).collect(), sys));
  BOOST_TEST(got == iota_vec(10000));
  BOOST_TEST(m->sent.load() == 10000);
  BOOST_TEST(m->max_demand.load() <= 16u);
  // Pulls come in halves of the credit at least (no item-by-item chatter).
  BOOST_TEST(m->pulls.load() <= 2 * 10000 / 8 + 2);
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
}

//! Contract: the producer never has more than `credit` items on their way:
//! items it sent minus items the sink consumed stay within credit plus the
//! capacity of the one channel between source and sink, however slow the
//! sink is.
BOOST_FIXTURE_TEST_CASE(in_flight_bounded_by_credit, system_fixture,
                        *utf::label("actor_io") * utf::label("bounded")) {
  for (uint32_t credit : {1u, 8u, 32u}) {
    BOOST_TEST_CONTEXT("credit " << credit) {
      auto m = std::make_shared<flow_meter>();
      auto producer = sys.spawn(counting_producer, 3000, m);
      actorflow::actor_source_options opts;
      opts.credit = credit;
      run_options ro;
      ro.capacity = 4;
      auto res = run_bounded(
        actorflow::from_actor<int>(producer, opts).for_each([m](int) {
          m->on_consumed();
          actorflow_test::spin_for(2us);
        }),
        sys, ro);
      BOOST_TEST(static_cast<bool>(res));
      BOOST_TEST(m->consumed.load() == 3000);
      BOOST_TEST(m->max_demand.load() <= credit);
      BOOST_TEST(m->max_in_flight.load() <= int64_t{credit} + 4,
                 "max in flight " << m->max_in_flight.load());
      // The instrument measures something: the producer ran ahead of the
      // slow sink up to about the credit.
      BOOST_TEST(m->max_in_flight.load() >= int64_t{credit} / 2);
      caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
    }
  }
}

//! Contract: a producer may answer a pull later (response promise); the
//! actor_source_queue helper keeps the pending pull and the early items.
BOOST_FIXTURE_TEST_CASE(async_producer_with_queue, system_fixture,
                        *utf::label("actor_io")) {
  struct state {
    actorflow::actor_source_queue<int> q;
  };
  // The test thread pushes items into the producer as plain messages; the
  // producer forwards them under the pipeline's demand.
  auto producer = sys.spawn([](caf::stateful_actor<state>* self) {
    self->state.q.attach(self);
    return caf::behavior{
      [self](actorflow::demand_atom, uint32_t n) {
        return self->state.q.pull(n);
      },
      [self](int x) { self->state.q.push(x); },
      [self](stop_atom) { self->state.q.close(); },
    };
  });
  auto run
    = actorflow::from_actor<int>(producer).collect().start(sys, run_options{});
  for (int i = 0; i < 500; ++i)
    caf::anon_send(producer, i);
  caf::anon_send(producer, stop_atom::value);
  auto waiter = std::async(std::launch::async,
                           [run]() mutable { return run.wait(); });
  BOOST_TEST_REQUIRE((waiter.wait_for(10s) == std::future_status::ready));
  BOOST_TEST(value_of(waiter.get()) == iota_vec(500));
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
}

//! Contract: the helper's close with nothing buffered ends a pending pull;
//! fail() fails the pipeline with the producer's error.
BOOST_FIXTURE_TEST_CASE(queue_close_and_fail, system_fixture,
                        *utf::label("actor_io")) {
  struct state {
    actorflow::actor_source_queue<int> q;
  };
  auto make = [&](bool fail) {
    return sys.spawn([fail](caf::stateful_actor<state>* self) {
      self->state.q.attach(self);
      return caf::behavior{
        [self](actorflow::demand_atom, uint32_t n) {
          return self->state.q.pull(n);
        },
        [self, fail](go_atom) {
          self->state.q.push(1);
          self->state.q.push(2);
          if (fail)
            self->state.q.fail(
              caf::make_error(caf::sec::runtime_error, "sensor unplugged"));
          else
            self->state.q.close();
        },
      };
    });
  };
  auto ok = make(false);
  auto run_ok = actorflow::from_actor<int>(ok).collect().start(sys);
  caf::anon_send(ok, go_atom::value);
  BOOST_TEST(value_of(std::move(run_ok).wait()) == (std::vector<int>{1, 2}));
  auto bad = make(true);
  auto run_bad = actorflow::from_actor<int>(bad).collect().start(sys);
  caf::anon_send(bad, go_atom::value);
  auto err = error_of(std::move(run_bad).wait());
  BOOST_TEST(has_code(err, error_code::worker_failed));
  BOOST_TEST(contains(text(err), "from_actor#1"), text(err));
  BOOST_TEST(contains(actorflow::to_string_any(err), "sensor unplugged"),
             actorflow::to_string_any(err));
  caf::anon_send_exit(ok, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bad, caf::exit_reason::user_shutdown);
}

//! Contract: a producer that terminates while it holds a pull (a response
//! that can never come) fails the pipeline, naming the source; no hang.
BOOST_FIXTURE_TEST_CASE(producer_death_is_an_error, system_fixture,
                        *utf::label("actor_io") * utf::label("errors")) {
  // Sends 0..99, then keeps the next pull as a promise and dies.
  auto producer = sys.spawn([](caf::event_based_actor* self) {
    auto next = std::make_shared<int>(0);
    return caf::behavior{
      [self, next](actorflow::demand_atom,
                   uint32_t n) -> caf::result<std::vector<int>> {
        if (*next >= 100) {
          auto rp = self->make_response_promise();
          self->quit(caf::sec::runtime_error);
          return rp;
        }
        std::vector<int> xs;
        while (xs.size() < n && *next < 100)
          xs.push_back((*next)++);
        return xs;
      },
    };
  });
  std::atomic<int> seen{0};
  auto err = error_of(run_bounded(actorflow::from_actor<int>(producer)
                                    .then([](int x) { return x; })
                                    .for_each([&](int) { ++seen; }),
                                  sys));
  BOOST_TEST(has_code(err, error_code::worker_failed));
  BOOST_TEST(contains(text(err), "worker 'from_actor#1' threw: the producer "
                                 "terminated before ending the stream"),
             text(err));
  BOOST_TEST(seen.load() <= 100);
  // A producer that is gone before the pipeline starts: the pull bounces.
  auto err2 = error_of(
    run_bounded(actorflow::from_actor<int>(producer).collect(), sys));
  BOOST_TEST(contains(text(err2), "from_actor#1"), text(err2));
}

//! Contract: an error reply, and a reply with more items than demanded,
//! fail the pipeline; an endless producer behind a failing stage stops.
BOOST_FIXTURE_TEST_CASE(protocol_errors, system_fixture,
                        *utf::label("actor_io") * utf::label("errors")) {
  auto failing = sys.spawn([]() -> caf::behavior {
    return {
      [](actorflow::demand_atom, uint32_t) -> caf::result<std::vector<int>> {
        return caf::make_error(caf::sec::runtime_error, "disk on fire");
      },
    };
  });
  auto err
    = error_of(run_bounded(actorflow::from_actor<int>(failing).collect(), sys));
  BOOST_TEST(contains(text(err), "worker 'from_actor#1' threw: pulling from "
                                 "the producer failed"),
             text(err));
  BOOST_TEST(contains(text(err), "disk on fire"), text(err));
  auto greedy = sys.spawn([]() -> caf::behavior {
    return {
      [](actorflow::demand_atom, uint32_t n) {
        return std::vector<int>(n + 1, 7);
      },
    };
  });
  auto err2
    = error_of(run_bounded(actorflow::from_actor<int>(greedy).collect(), sys));
  BOOST_TEST(contains(text(err2), "sent 65 items for a demand of 64"),
             text(err2));
  // Endless producer, a stage that fails at item 10: the run ends.
  auto endless = sys.spawn([]() -> caf::behavior {
    return {
      [](actorflow::demand_atom, uint32_t n) { return std::vector<int>(n, 1); },
    };
  });
  auto err3 = error_of(run_bounded(
    actorflow::from_actor<int>(endless).enumerate().for_each([](auto p) {
      if (p.first == 10)
        throw std::runtime_error("boom");
    }),
    sys));
  BOOST_TEST(contains(text(err3), "boom"), text(err3));
  // An endless producer with a take: the run ends, successfully.
  auto first = value_of(
    run_bounded(actorflow::from_actor<int>(endless).take(5).collect(), sys));
  BOOST_TEST(first == (std::vector<int>(5, 1)));
  // Bad arguments.
  auto err4 = error_of(
    run_bounded(actorflow::from_actor<int>(caf::actor{}).collect(), sys));
  BOOST_TEST(has_code(err4, error_code::invalid_argument));
  actorflow::actor_source_options zero;
  zero.credit = 0;
  auto err5 = error_of(
    run_bounded(actorflow::from_actor<int>(endless, zero).collect(), sys));
  BOOST_TEST(has_code(err5, error_code::invalid_argument));
  for (auto& a : {failing, greedy, endless})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()

// -- to_actor -----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(to_actor_sink)

//! Contract: the consumer gets every item once, in order; the pipeline ends
//! only after the consumer acknowledged the last batch.
BOOST_FIXTURE_TEST_CASE(order_and_exactly_once, system_fixture,
                        *utf::label("actor_io")) {
  for (uint32_t batch : {1u, 7u, 64u}) {
    BOOST_TEST_CONTEXT("batch " << batch) {
      auto consumer = sys.spawn(collecting_consumer);
      actorflow::actor_sink_options opts;
      opts.batch = batch;
      BOOST_TEST(static_cast<bool>(
        run_bounded(actorflow::iota(0, 5000).to_actor(consumer, opts), sys)));
      BOOST_TEST(contents(sys, consumer) == iota_vec(5000));
      caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
    }
  }
  // Through a parallel stage and with default options.
  auto consumer = sys.spawn(collecting_consumer);
  BOOST_TEST(
    static_cast<bool>(run_bounded(actorflow::iota(0, 3000)
                                    .parallel_then(2, [](int x) { return x; })
                                    .to_actor(consumer),
                                  sys)));
  BOOST_TEST(contents(sys, consumer) == iota_vec(3000));
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
}

//! Contract: at most `window` batches of at most `batch` items are
//! unacknowledged, so a slow consumer is not flooded. The consumer below
//! acknowledges late (it keeps the response promises and releases one per
//! message it sends itself, behind whatever already waits in its mailbox):
//! an unbounded sink would pile up batches there.
BOOST_FIXTURE_TEST_CASE(unacknowledged_batches_are_bounded, system_fixture,
                        *utf::label("actor_io") * utf::label("bounded")) {
  struct state {
    std::deque<caf::response_promise> held;
    size_t max_held = 0;
    size_t max_batch = 0;
    std::vector<int> got;
  };
  for (uint32_t window : {1u, 3u}) {
    BOOST_TEST_CONTEXT("window " << window) {
      auto consumer = sys.spawn([](caf::stateful_actor<state>* self) {
        return caf::behavior{
          [self](actorflow::batch_atom, std::vector<int>& xs) {
            auto& st = self->state;
            st.got.insert(st.got.end(), xs.begin(), xs.end());
            st.max_batch = std::max(st.max_batch, xs.size());
            st.held.push_back(self->make_response_promise());
            st.max_held = std::max(st.max_held, st.held.size());
            self->send(self, release_atom::value);
            return st.held.back();
          },
          [self](release_atom) {
            auto& st = self->state;
            st.held.front().deliver(caf::unit);
            st.held.pop_front();
          },
          [self](caf::get_atom) {
            return std::make_tuple(self->state.got,
                                   static_cast<int>(self->state.max_held),
                                   static_cast<int>(self->state.max_batch));
          },
        };
      });
      actorflow::actor_sink_options opts;
      opts.batch = 5;
      opts.window = window;
      BOOST_TEST(static_cast<bool>(
        run_bounded(actorflow::iota(0, 2000).to_actor(consumer, opts), sys)));
      caf::scoped_actor self{sys};
      self->request(consumer, 5s, caf::get_atom::value)
        .receive(
          [&](std::vector<int>& got, int max_held, int max_batch) {
            BOOST_TEST(got == iota_vec(2000));
            BOOST_TEST(max_held <= static_cast<int>(window));
            BOOST_TEST(max_batch <= 5);
          },
          [&](caf::error& err) {
            BOOST_ERROR("get failed: " << actorflow::to_string_any(err));
          });
      caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
    }
  }
}

//! Contract: an error reply, a consumer that dies holding a batch, and a
//! consumer that is gone fail the pipeline, naming the sink; no hang.
BOOST_FIXTURE_TEST_CASE(consumer_errors, system_fixture,
                        *utf::label("actor_io") * utf::label("errors")) {
  auto refusing = sys.spawn([]() -> caf::behavior {
    auto n = std::make_shared<int>(0);
    return {
      [n](actorflow::batch_atom, std::vector<int>& xs) -> caf::result<void> {
        *n += static_cast<int>(xs.size());
        if (*n > 100)
          return caf::make_error(caf::sec::runtime_error, "disk full");
        return caf::unit;
      },
    };
  });
  auto err = error_of(run_bounded(actorflow::iota(0).to_actor(refusing), sys));
  BOOST_TEST(has_code(err, error_code::worker_failed));
  BOOST_TEST(contains(text(err), "worker 'to_actor#2' threw: the consumer "
                                 "did not acknowledge a batch"),
             text(err));
  BOOST_TEST(contains(text(err), "disk full"), text(err));
  // Dies while it holds a batch (its promise can never be kept).
  auto dying = sys.spawn([](caf::event_based_actor* self) {
    return caf::behavior{
      [self](actorflow::batch_atom, std::vector<int>&) {
        auto rp = self->make_response_promise();
        self->quit(caf::sec::runtime_error);
        return rp;
      },
    };
  });
  // (window 1: no second batch can bounce first; only the monitor tells.)
  actorflow::actor_sink_options one;
  one.window = 1;
  auto err2
    = error_of(run_bounded(actorflow::iota(0).to_actor(dying, one), sys));
  BOOST_TEST(contains(text(err2), "to_actor#2"), text(err2));
  BOOST_TEST(contains(text(err2), "consumer terminated"), text(err2));
  // Gone before the run: the first batch bounces.
  auto err3 = error_of(run_bounded(actorflow::iota(0).to_actor(dying), sys));
  BOOST_TEST(contains(text(err3), "to_actor#2"), text(err3));
  // Bad arguments.
  auto err4
    = error_of(run_bounded(actorflow::iota(0, 3).to_actor(caf::actor{}), sys));
  BOOST_TEST(has_code(err4, error_code::invalid_argument));
  actorflow::actor_sink_options zero;
  zero.window = 0;
  auto err5 = error_of(
    run_bounded(actorflow::iota(0, 3).to_actor(refusing, zero), sys));
  BOOST_TEST(has_code(err5, error_code::invalid_argument));
  caf::anon_send_exit(refusing, caf::exit_reason::user_shutdown);
}

//! Contract: an actor feeds a pipeline and another receives its output.
BOOST_FIXTURE_TEST_CASE(actor_to_actor, system_fixture,
                        *utf::label("actor_io")) {
  auto m = std::make_shared<flow_meter>();
  auto producer = sys.spawn(counting_producer, 4000, m);
  auto consumer = sys.spawn(collecting_consumer);
  BOOST_TEST(static_cast<bool>(
    run_bounded(actorflow::from_actor<int>(producer, {.credit = 16})
                  .then([](int x) { return x * 2; })
                  .filter([](int x) { return x % 3 != 0; })
                  .to_actor(consumer, {.batch = 8, .window = 2}),
                sys)));
  std::vector<int> want;
  for (int x = 0; x < 4000; ++x)
    if ((2 * x) % 3 != 0)
      want.push_back(2 * x);
  BOOST_TEST(contents(sys, consumer) == want);
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
