// Running a pipeline (actorflow/flow.hpp: start, notify, wait, cancel):
// started and awaited from inside an event-based actor, cancelled by it,
// failing or running over actors there; and the report of a pipeline that
// was built but never run.

#include <atomic>
#include <cstdio>
#include <memory>
#include <numeric>
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
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "support/flow_support.hpp"

using namespace actorflow_test;
namespace utf = boost::unit_test;

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
