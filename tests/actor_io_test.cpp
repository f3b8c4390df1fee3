// Pipelines embedded in CAF actor applications (actorflow/actor_io.hpp,
// tee.hpp, running): an existing actor feeding a pipeline under credit
// (from_actor, actor_source_queue), a pipeline delivering into an existing
// actor with bounded unacknowledged batches (to_actor), tee branches, a
// pipeline started and awaited from inside an actor, and the report of a
// pipeline that was built but never run.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <future>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/response_promise.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
using actorflow::error_code;
using actorflow::run_options;
using actorflow_test::contains;
using actorflow_test::error_of;
using actorflow_test::has_code;
using actorflow_test::run_bounded;
using actorflow_test::system_fixture;
using actorflow_test::text;
using actorflow_test::value_of;
namespace utf = boost::unit_test;

namespace {

using release_atom = caf::atom_constant<caf::atom("release")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using go_atom = caf::atom_constant<caf::atom("go")>;

std::vector<int> iota_vec(int n) {
  std::vector<int> xs(static_cast<size_t>(n));
  std::iota(xs.begin(), xs.end(), 0);
  return xs;
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
caf::behavior counting_producer(int n, std::shared_ptr<flow_meter> m) {
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
caf::behavior collecting_consumer(caf::event_based_actor*) {
  auto got = std::make_shared<std::vector<int>>();
  return {
    [got](actorflow::batch_atom, std::vector<int>& xs) {
      got->insert(got->end(), xs.begin(), xs.end());
    },
    [got](caf::get_atom) { return *got; },
  };
}

std::vector<int> contents(caf::actor_system& sys, const caf::actor& a) {
  caf::scoped_actor self{sys};
  std::vector<int> result;
  self->request(a, 5s, caf::get_atom::value)
    .receive([&](std::vector<int>& xs) { result = std::move(xs); },
             [&](caf::error& err) {
               BOOST_ERROR("get failed: " << actorflow::to_string_any(err));
             });
  return result;
}

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

// -- running inside an actor --------------------------------------------------

BOOST_AUTO_TEST_SUITE(inside_an_actor)

//! Contract: an event-based actor starts a pipeline and gets its result as
//! `(done_atom, R)` without blocking; `wait()` afterwards still returns the
//! whole result (notify does not consume it); several notifies all arrive.
BOOST_FIXTURE_TEST_CASE(start_and_await_from_an_actor, system_fixture,
                        *utf::label("running")) {
  caf::scoped_actor test{sys};
  caf::actor reply_to = test;
  auto a = sys.spawn([reply_to](caf::event_based_actor* self) {
    auto run = actorflow::iota(0, 1000)
                 .then([](int x) { return x + 1; })
                 .collect()
                 .start(self->system());
    run.notify(self);
    run.notify(reply_to); // a second listener
    return caf::behavior{
      [self, run, reply_to](actorflow::done_atom,
                            std::vector<int>& xs) mutable {
        auto again = run.wait(); // finished: returns at once
        self->send(reply_to, go_atom::value, xs,
                   again ? *again : std::vector<int>{});
        self->quit();
      },
      [self, reply_to](actorflow::done_atom, caf::error& err) {
        self->send(reply_to, err);
        self->quit();
      },
    };
  });
  std::vector<int> want(1000);
  std::iota(want.begin(), want.end(), 1);
  int got = 0;
  for (int i = 0; i < 2; ++i) {
    test->receive(
      [&](go_atom, std::vector<int>& xs, std::vector<int>& waited) {
        ++got;
        BOOST_TEST(xs == want);
        BOOST_TEST(waited == want);
      },
      [&](actorflow::done_atom, std::vector<int>& xs) {
        ++got;
        BOOST_TEST(xs == want);
      },
      [&](caf::error& err) {
        BOOST_ERROR("pipeline failed: " << actorflow::to_string_any(err));
      },
      caf::after(10s) >> [&] { BOOST_ERROR("no result within 10 s"); });
  }
  BOOST_TEST(got == 2);
}

//! Contract: the actor can cancel the pipeline it started; it then gets
//! `(done_atom, caf::error)` with error_code::cancelled.
BOOST_FIXTURE_TEST_CASE(cancel_from_inside_an_actor, system_fixture,
                        *utf::label("running")) {
  caf::scoped_actor test{sys};
  caf::actor reply_to = test;
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto a = sys.spawn([reply_to, seen](caf::event_based_actor* self) {
    // Endless: only the cancel ends it.
    auto run = actorflow::repeat(1)
                 .for_each([seen](int) { ++*seen; })
                 .start(self->system());
    run.notify(self);
    self->send(self, stop_atom::value);
    return caf::behavior{
      [run](stop_atom) mutable { run.cancel(); },
      [self, reply_to](actorflow::done_atom, caf::error& err) {
        self->send(reply_to, err);
        self->quit();
      },
      [self, reply_to](actorflow::done_atom, caf::unit_t) {
        self->send(reply_to, go_atom::value);
        self->quit();
      },
    };
  });
  test->receive(
    [&](caf::error& err) {
      BOOST_TEST(has_code(err, error_code::cancelled),
                 actorflow::to_string_any(err));
    },
    [&](go_atom) { BOOST_ERROR("an endless pipeline ended by itself"); },
    caf::after(10s) >> [&] { BOOST_ERROR("no outcome within 10 s"); });
}

//! Contract: a failing pipeline delivers `(done_atom, caf::error)`, and a
//! pipeline over actors (producer actor -> stages -> consumer actor) runs
//! from inside a third actor.
BOOST_FIXTURE_TEST_CASE(failure_and_actor_io_from_an_actor, system_fixture,
                        *utf::label("running") * utf::label("actor_io")) {
  caf::scoped_actor test{sys};
  caf::actor reply_to = test;
  auto m = std::make_shared<flow_meter>();
  auto producer = sys.spawn(counting_producer, 500, m);
  auto consumer = sys.spawn(collecting_consumer);
  sys.spawn([producer, consumer, reply_to](caf::event_based_actor* self) {
    actorflow::from_actor<int>(producer)
      .then([](int x) { return x + 1; })
      .to_actor(consumer)
      .start(self->system())
      .notify(self);
    actorflow::iota(0, 10)
      .for_each([](int x) {
        if (x == 5)
          throw std::runtime_error("five");
      })
      .start(self->system())
      .notify(self);
    auto outcomes = std::make_shared<int>(0);
    return caf::behavior{
      [self, reply_to, outcomes](actorflow::done_atom, caf::unit_t) {
        self->send(reply_to, go_atom::value);
        if (++*outcomes == 2)
          self->quit();
      },
      [self, reply_to, outcomes](actorflow::done_atom, caf::error& err) {
        self->send(reply_to, err);
        if (++*outcomes == 2)
          self->quit();
      },
    };
  });
  bool ok = false;
  bool failed = false;
  for (int i = 0; i < 2; ++i)
    test->receive([&](go_atom) { ok = true; },
                  [&](caf::error& err) {
                    failed = true;
                    BOOST_TEST(contains(text(err), "five"), text(err));
                  },
                  caf::after(10s) >> [&] { BOOST_ERROR("no outcome"); });
  BOOST_TEST(ok);
  BOOST_TEST(failed);
  std::vector<int> want(500);
  std::iota(want.begin(), want.end(), 1);
  BOOST_TEST(contents(sys, consumer) == want);
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()

// -- a pipeline built but never run -------------------------------------------

BOOST_AUTO_TEST_SUITE(never_run)

namespace {

/// Runs `f` with stderr redirected to a temporary file; returns what was
/// written to it.
template <class F>
std::string capture_stderr(F f) {
  std::fflush(stderr);
  auto tmp = std::tmpfile();
  BOOST_TEST_REQUIRE(tmp != nullptr);
  auto saved = dup(fileno(stderr));
  dup2(fileno(tmp), fileno(stderr));
  f();
  std::fflush(stderr);
  dup2(saved, fileno(stderr));
  close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[256];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), tmp)) > 0)
    out.append(buf, n);
  std::fclose(tmp);
  return out;
}

const std::string warning = "actorflow: warning: a pipeline was built but "
                            "never run";

} // namespace

//! Contract: a pipeline destroyed without run()/start() says so on stderr
//! (also one that holds a build error, which nobody would see otherwise);
//! a run, started, moved-from, or embedded (tee branch) pipeline does not.
BOOST_FIXTURE_TEST_CASE(destroyed_without_run_reports, system_fixture,
                        *utf::label("running")) {
  auto out = capture_stderr([] {
    auto p = actorflow::iota(0, 3).collect();
    (void)p;
  });
  BOOST_TEST(contains(out, warning), out);
  auto out2 = capture_stderr([] {
    auto p = actorflow::iota(0, 3).batch(0).collect(); // holds an error
    (void)p;
  });
  BOOST_TEST(contains(out2, warning), out2);
  auto out3 = capture_stderr([] {
    auto p = actorflow::iota(0, 3).reduce([](int a, int b) { return a + b; });
    (void)p;
  });
  BOOST_TEST(out3 == warning + " (call run(sys) or start(sys) on it)\n", out3);
  auto out4 = capture_stderr([] {
    actorflow::pipeline<std::vector<int>> p = actorflow::iota(0, 3).collect();
    p = actorflow::iota(0, 4).collect(); // the first one is dropped unrun
    auto q = std::move(p);               // p moved from: silent
    (void)q;                             // q: reported
  });
  BOOST_TEST(out4
               == warning + " (call run(sys) or start(sys) on it)\n" + warning
                    + " (call run(sys) or start(sys) on it)\n",
             out4);
  auto out5 = capture_stderr([this] {
    auto a = actorflow::iota(0, 3).collect();
    BOOST_TEST(value_of(std::move(a).run(sys)).size() == 3u);
    auto b = actorflow::iota(0, 3).collect();
    auto run = std::move(b).start(sys);
    BOOST_TEST(static_cast<bool>(run.wait()));
    auto c = actorflow::iota(0, 3).reduce([](int x, int y) { return x + y; });
    BOOST_TEST(value_of(std::move(c).run(sys)) == 3);
    auto d = actorflow::iota(0, 3)
               .tee([](actorflow::flow<int> f) {
                 return std::move(f).for_each([](int) {});
               })
               .collect();
    BOOST_TEST(value_of(std::move(d).run(sys)).size() == 3u);
  });
  BOOST_TEST(out5.empty(), out5);
}

BOOST_AUTO_TEST_SUITE_END()
