// Workers that join a running distributed stage (stage_control): a node
// added mid-stream takes work while the output stays exactly-once and in
// order; a joined node killed with SIGKILL loses nothing; bad joins (zero
// workers, a bad address, "local", a refused port, a node without the
// stage or with other item types, a stage that does not run, one control
// for two running stages) are clear errors that leave the running stage as
// it was. Nodes join by themselves through a driver's join_point
// (`actorflow_node --join`), and one that cannot join says so and exits.
// A node that drains (SIGTERM) finishes the items its workers hold and
// leaves: no item runs twice, and the output stays exact.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "support/remote_support.hpp"

using namespace actorflow_test;
using actorflow::error_code;

namespace {

/// Why `x` failed, or nothing (the message of a check is evaluated either
/// way).
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{} : actorflow::to_string_any(x.error());
}

/// The process that computed a result of "tagged_square", and its value.
int64_t pid_of(int64_t tagged) {
  return tagged >> 32;
}

int64_t value_of(int64_t tagged) {
  return tagged & 0xffffffff;
}

/// A pipeline over "tagged_square" whose input the test feeds by hand, so
/// that workers can join while items are still to come.
struct fed_run {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<int64_t> out;
  std::optional<actorflow::sender<int32_t>> tx;
  std::optional<actorflow::running<caf::unit_t>> run;
  int32_t fed = 0;

  fed_run(caf::actor_system& sys, actorflow::placement where,
          actorflow::remote_options opts,
          const std::string& stage = "tagged_square") {
    auto ch = actorflow::channel<int32_t>(sys, 64);
    BOOST_REQUIRE(ch);
    tx.emplace(std::move(ch->tx));
    run.emplace(actorflow::from(std::move(ch->rx))
                  .compose(actorflow::remote_parallel_then<int64_t>(
                    std::move(where), stage, std::move(opts)))
                  .for_each([this](int64_t y) {
                    std::lock_guard guard{mtx};
                    out.push_back(y);
                    cv.notify_all();
                  })
                  .start(sys));
  }

  /// Feeds the next `n` items.
  void feed(int32_t n) {
    for (int32_t i = 0; i < n; ++i)
      BOOST_REQUIRE(tx->blocking_send(fed++));
  }

  /// Waits (at most 10 s) until `n` results came out.
  bool wait_for(size_t n) {
    std::unique_lock guard{mtx};
    return cv.wait_for(guard, std::chrono::seconds{10},
                       [&] { return out.size() >= n; });
  }

  /// Waits (at most 10 s) until the process `pid` made a result.
  bool wait_until_made_by(pid_t pid);

  /// Ends the input and waits for the run; its results.
  std::vector<int64_t> finish() {
    tx.reset();
    auto r = run->wait();
    BOOST_REQUIRE_MESSAGE(r, why(r));
    std::lock_guard guard{mtx};
    return out;
  }
};

/// Checks that `out` holds the squares of 0..n-1 in order, exactly once.
void check_exact(const std::vector<int64_t>& out, int32_t n) {
  BOOST_REQUIRE_EQUAL(out.size(), static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i)
    BOOST_REQUIRE_EQUAL(value_of(out[static_cast<size_t>(i)]), int64_t{i} * i);
}

size_t made_by(const std::vector<int64_t>& out, pid_t pid) {
  size_t result = 0;
  for (auto y : out)
    if (pid_of(y) == pid)
      ++result;
  return result;
}

bool fed_run::wait_until_made_by(pid_t pid) {
  std::unique_lock guard{mtx};
  return cv.wait_for(guard, std::chrono::seconds{10},
                     [&] { return made_by(out, pid) > 0; });
}

/// The calls of the test stages in the nodes started while it lives: it
/// sets ACTORFLOW_TEST_CALLS to a fresh directory (see note_call).
struct call_log {
  std::filesystem::path dir;

  call_log() {
    char name[] = "/tmp/actorflow-calls-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(name) != nullptr);
    dir = name;
    ::setenv("ACTORFLOW_TEST_CALLS", name, 1);
  }

  ~call_log() {
    ::unsetenv("ACTORFLOW_TEST_CALLS");
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  /// How often each item ran, over all processes.
  std::map<int32_t, size_t> counts() const {
    std::map<int32_t, size_t> result;
    for (auto& file : std::filesystem::directory_iterator{dir}) {
      std::ifstream in{file.path()};
      int32_t x = 0;
      while (in >> x)
        ++result[x];
    }
    return result;
  }

  /// How many calls the process `pid` made.
  size_t calls_by(pid_t pid) const {
    std::ifstream in{dir / std::to_string(pid)};
    size_t result = 0;
    int32_t x = 0;
    while (in >> x)
      ++result;
    return result;
  }
};

/// Checks that every item of 0..n-1 ran exactly once.
void check_once(const call_log& calls, int32_t n) {
  auto counts = calls.counts();
  BOOST_TEST(counts.size() == static_cast<size_t>(n));
  size_t twice = 0;
  for (auto& [x, k] : counts)
    if (k != 1)
      ++twice;
  BOOST_TEST(twice == 0u);
}

/// A driver whose stages can grow through `grow`.
struct elastic_fixture : driver_fixture {
  actorflow::stage_control grow;

  /// The tests' remote options, with `grow` as the stage's control.
  actorflow::remote_options growing() {
    auto result = opts();
    result.control = grow;
    return result;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(remote_elastic, elastic_fixture)

BOOST_AUTO_TEST_CASE(a_node_that_joins_mid_stream_takes_work) {
  // One worker on node a, then two on node b while 400 items (2 ms each)
  // are still to come: b computes some of them, and the output stays the
  // squares in order, each once.
  test_node a;
  test_node b;
  auto o = growing();
  fed_run r{sys, {{a.address, 1}}, o};
  r.feed(50);
  BOOST_REQUIRE(r.wait_for(1));
  BOOST_TEST(grow.running());
  auto err = grow.add_workers(b.address, 2);
  BOOST_REQUIRE_MESSAGE(!err, actorflow::to_string_any(err));
  BOOST_TEST(grow.joined() == 2u);
  r.feed(400);
  auto out = r.finish();
  check_exact(out, 450);
  BOOST_TEST(made_by(out, a.pid()) > 0u);
  BOOST_TEST(made_by(out, b.pid()) > 0u);
  BOOST_TEST(made_by(out, a.pid()) + made_by(out, b.pid()) == 450u);
  BOOST_TEST(!grow.running());
}

BOOST_AUTO_TEST_CASE(a_join_is_served_while_upstream_is_busy) {
  // The source never waits (iota), and the window is set for more workers
  // (as a stage that grows should be), so the scatter always has an item to
  // take: a join request must still be served at once, not when the input
  // ends. One worker alone would take about 2.4 s.
  test_node a;
  test_node b;
  auto o = growing();
  o.window = 64 * 8;
  auto run = actorflow::iota(int32_t{0}, int32_t{1200})
               .compose(actorflow::remote_parallel_then<int64_t>(
                 {{a.address, 1}}, "tagged_square", o))
               .collect()
               .start(sys);
  auto err = grow.add_workers(b.address, 2);
  BOOST_REQUIRE_MESSAGE(!err, actorflow::to_string_any(err));
  auto out = run.wait();
  BOOST_REQUIRE_MESSAGE(out, why(out));
  check_exact(*out, 1200);
  // b's two workers took most of the work.
  BOOST_TEST(made_by(*out, b.pid()) > 400u);
}

BOOST_AUTO_TEST_CASE(joins_to_the_unordered_variant_and_twice) {
  test_node a;
  test_node b;
  test_node c;
  auto o = growing();
  std::vector<int64_t> out;
  {
    auto ch = actorflow::channel<int32_t>(sys, 64);
    BOOST_REQUIRE(ch);
    auto tx = std::move(ch->tx);
    auto run = actorflow::from(std::move(ch->rx))
                 .compose(actorflow::remote_parallel_then_unordered<int64_t>(
                   {{a.address, 1}}, "tagged_square", o))
                 .collect()
                 .start(sys);
    for (int32_t i = 0; i < 20; ++i)
      BOOST_REQUIRE(tx.blocking_send(i));
    auto err = grow.add_workers(b.address, 1);
    BOOST_REQUIRE_MESSAGE(!err, actorflow::to_string_any(err));
    err = grow.add_workers(c.address, 1);
    BOOST_REQUIRE_MESSAGE(!err, actorflow::to_string_any(err));
    for (int32_t i = 20; i < 300; ++i)
      BOOST_REQUIRE(tx.blocking_send(i));
    tx.close();
    auto result = run.wait();
    BOOST_REQUIRE_MESSAGE(result, why(result));
    out = std::move(*result);
  }
  BOOST_TEST(grow.joined() == 2u);
  std::vector<int64_t> values;
  for (auto y : out)
    values.push_back(value_of(y));
  std::sort(values.begin(), values.end());
  BOOST_TEST(values == squares(300), boost::test_tools::per_element());
  BOOST_TEST(made_by(out, b.pid()) > 0u);
  BOOST_TEST(made_by(out, c.pid()) > 0u);
}

BOOST_AUTO_TEST_CASE(a_joined_node_killed_mid_stream_loses_nothing) {
  // Node b joins, computes some items, and dies by SIGKILL: its items go to
  // a's worker again, and the output stays exact.
  test_node a;
  test_node b;
  auto o = growing();
  fed_run r{sys, {{a.address, 1}}, o};
  r.feed(20);
  auto err = grow.add_workers(b.address, 2);
  BOOST_REQUIRE_MESSAGE(!err, actorflow::to_string_any(err));
  r.feed(200);
  // Kill b once it made a result.
  BOOST_REQUIRE(r.wait_until_made_by(b.pid()));
  b.proc->kill(SIGKILL);
  r.feed(100);
  auto out = r.finish();
  check_exact(out, 320);
  BOOST_TEST(made_by(out, a.pid()) > 0u);
}

BOOST_AUTO_TEST_CASE(bad_joins_are_clear_errors_and_the_stage_goes_on) {
  test_node a;
  // A node of another build: no "tagged_square", and another "square".
  child_process other{{ACTORFLOW_TEST_NODE,
                       "--plugins=" ACTORFLOW_TEST_OTHER_STAGES, "--port=0",
                       "--scheduler.max-threads=2", "--heartbeat-ms=100",
                       "--timeout-ms=2000", "--exit-with-parent"}};
  auto other_port = other.expect("PORT ");
  BOOST_REQUIRE(other_port);
  auto other_node = "127.0.0.1:" + *other_port;
  refused_port refused;
  // Not started yet.
  auto err = grow.add_workers(a.address, 1);
  BOOST_TEST((code_of(err) == error_code::not_running));
  auto early = grow.drain(a.address);
  BOOST_TEST((!early && code_of(early.error()) == error_code::not_running));
  BOOST_TEST(!grow.running());
  auto o = growing();
  fed_run r{sys, {{a.address, 1}}, o};
  r.feed(10);
  BOOST_REQUIRE(r.wait_for(1));
  auto expect = [&](const std::string& where, size_t k, error_code code,
                    const std::string& part) {
    auto e = grow.add_workers(where, k);
    BOOST_TEST_CONTEXT(where << " * " << k << ": "
                             << actorflow::to_string_any(e)) {
      BOOST_TEST((code_of(e) == code));
      BOOST_TEST(actorflow::what(e).find(part) != std::string::npos);
    }
  };
  expect(a.address, 0, error_code::invalid_argument, "zero workers");
  expect("nowhere", 1, error_code::invalid_argument, "bad node address");
  expect("local", 1, error_code::invalid_argument, "local workers");
  expect(refused.address(), 1, error_code::connect_failed, "cannot connect");
  expect(other_node, 2, error_code::unknown_stage, "tagged_square");
  // Drains that cannot work: nothing changes.
  for (auto [where, part] : {std::pair{std::string{"local"}, "only workers"},
                             {std::string{"nowhere"}, "bad node address"},
                             {other_node, "no worker"}}) {
    auto left = grow.drain(where);
    BOOST_TEST_CONTEXT(where << ": " << why(left)) {
      BOOST_REQUIRE(!left);
      BOOST_TEST((code_of(left.error()) == error_code::invalid_argument));
      BOOST_TEST(actorflow::what(left.error()).find(part) != std::string::npos);
    }
  }
  // A second stage with the same control, while the first runs.
  auto second = actorflow::iota(int32_t{0}, int32_t{10})
                  .compose(actorflow::remote_parallel_then<int64_t>(
                    {{a.address, 1}}, "tagged_square", o))
                  .collect()
                  .run(sys);
  BOOST_REQUIRE(!second);
  BOOST_TEST((code_of(second.error()) == error_code::invalid_argument));
  BOOST_TEST(actorflow::what(second.error()).find("stage_control")
             != std::string::npos);
  BOOST_TEST(grow.joined() == 0u);
  // The first stage went on with its worker.
  r.feed(90);
  auto out = r.finish();
  check_exact(out, 100);
  BOOST_TEST(made_by(out, a.pid()) == 100u);
  // Ended.
  err = grow.add_workers(a.address, 1);
  BOOST_TEST((code_of(err) == error_code::not_running));
}

BOOST_AUTO_TEST_CASE(a_join_with_other_item_types_is_a_type_mismatch) {
  // "square" maps int32 to int64 here and int64 to int64 on the other node.
  test_node a;
  child_process other{{ACTORFLOW_TEST_NODE,
                       "--plugins=" ACTORFLOW_TEST_OTHER_STAGES, "--port=0",
                       "--scheduler.max-threads=2", "--heartbeat-ms=100",
                       "--timeout-ms=2000", "--exit-with-parent"}};
  auto other_port = other.expect("PORT ");
  BOOST_REQUIRE(other_port);
  auto o = growing();
  auto ch = actorflow::channel<int32_t>(sys, 64);
  BOOST_REQUIRE(ch);
  auto tx = std::move(ch->tx);
  auto run = actorflow::from(std::move(ch->rx))
               .compose(actorflow::remote_parallel_then<int64_t>(
                 {{a.address, 1}}, "square", o))
               .collect()
               .start(sys);
  BOOST_REQUIRE(tx.blocking_send(3));
  auto err = grow.add_workers("127.0.0.1:" + *other_port, 1);
  BOOST_TEST_CONTEXT(actorflow::to_string_any(err)) {
    BOOST_TEST((code_of(err) == error_code::type_mismatch));
  }
  for (int32_t i = 4; i < 100; ++i)
    BOOST_REQUIRE(tx.blocking_send(i));
  tx.close();
  auto out = run.wait();
  BOOST_REQUIRE_MESSAGE(out, why(out));
  BOOST_REQUIRE_EQUAL(out->size(), 97u);
  for (int32_t i = 3; i < 100; ++i)
    BOOST_TEST(out->at(static_cast<size_t>(i - 3)) == int64_t{i} * i);
}

BOOST_AUTO_TEST_CASE(a_node_started_with_join_takes_work) {
  // The driver opens a join point; node b starts with --join and its two
  // workers take items of the running stage.
  test_node a;
  auto joins = actorflow::join_point::open(sys, {{"tagged_square", grow}});
  BOOST_REQUIRE_MESSAGE(joins, why(joins));
  auto point = "--join=127.0.0.1:" + std::to_string(joins->port());
  auto o = growing();
  fed_run r{sys, {{a.address, 1}}, o};
  r.feed(20);
  test_node b{{point, "--stage=tagged_square", "--workers=2"}};
  auto joined = b.proc->expect("JOINED ", std::chrono::seconds{9});
  BOOST_REQUIRE(joined);
  BOOST_TEST(*joined == "tagged_square 2");
  BOOST_TEST(grow.joined() == 2u);
  r.feed(300);
  auto out = r.finish();
  check_exact(out, 320);
  BOOST_TEST(made_by(out, b.pid()) > 0u);
}

BOOST_AUTO_TEST_CASE(a_node_that_cannot_join_says_why_and_exits) {
  // A stage the join point does not offer, and no join point at all: the
  // node exits with a failure and never says JOINED; the stage goes on.
  test_node a;
  auto joins = actorflow::join_point::open(sys, {{"tagged_square", grow}});
  BOOST_REQUIRE(joins);
  auto o = growing();
  fed_run r{sys, {{a.address, 1}}, o};
  r.feed(10);
  refused_port refused;
  for (auto point :
       {"127.0.0.1:" + std::to_string(joins->port()), refused.address()}) {
    BOOST_TEST_CONTEXT(point) {
      child_process node{
        {ACTORFLOW_TEST_NODE, "--plugins=" ACTORFLOW_TEST_STAGES, "--port=0",
         "--heartbeat-ms=100", "--timeout-ms=2000", "--exit-with-parent",
         "--join=" + point, "--stage=nope"}};
      BOOST_REQUIRE(node.expect("PORT "));
      BOOST_TEST(!node.expect("JOINED ", std::chrono::seconds{9}));
      node.wait();
      BOOST_TEST(WIFEXITED(node.status()));
      BOOST_TEST(WEXITSTATUS(node.status()) == EXIT_FAILURE);
    }
  }
  BOOST_TEST(grow.joined() == 0u);
  r.feed(90);
  check_exact(r.finish(), 100);
}

namespace {

/// Node a drains (SIGTERM) while its two workers of `stage` have items in
/// hand and more to come; node b's two workers go on. a finishes what it
/// holds, says DRAINED 2 and exits with success; the output stays exact,
/// and no item runs twice.
void drain_mid_stream(elastic_fixture& fx, const std::string& stage) {
  call_log calls;
  test_node a;
  test_node b;
  fed_run r{fx.sys, {{a.address, 2}, {b.address, 2}}, fx.opts(), stage};
  r.feed(600); // returns with about 300 items (150 ms of work) to go
  BOOST_REQUIRE(r.wait_until_made_by(a.pid()));
  a.proc->kill(SIGTERM);
  auto drained = a.proc->expect("DRAINED ", std::chrono::seconds{9});
  BOOST_REQUIRE(drained);
  BOOST_TEST(*drained == "2");
  a.proc->wait();
  BOOST_TEST(WIFEXITED(a.proc->status()));
  BOOST_TEST(WEXITSTATUS(a.proc->status()) == EXIT_SUCCESS);
  r.feed(200);
  auto out = r.finish();
  check_exact(out, 800);
  check_once(calls, 800);
  // Every call on a made a result that came out.
  BOOST_TEST(calls.calls_by(a.pid()) == made_by(out, a.pid()));
  BOOST_TEST(made_by(out, b.pid()) > 0u);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_draining_node_finishes_its_items_and_leaves) {
  drain_mid_stream(*this, "tagged_square");
}

BOOST_AUTO_TEST_CASE(a_draining_node_finishes_its_calls_in_flight) {
  // A coroutine stage, two calls in flight per worker when the drain comes.
  drain_mid_stream(*this, "tagged_square_async");
}

BOOST_AUTO_TEST_CASE(the_driver_drains_the_workers_of_one_node) {
  // stage_control::drain: a's workers leave mid-stream, no item runs
  // twice; node a serves on, and a worker can join there again.
  call_log calls;
  test_node a;
  test_node b;
  fed_run r{sys, {{a.address, 2}, {b.address, 2}}, growing()};
  r.feed(600);
  BOOST_REQUIRE(r.wait_until_made_by(a.pid()));
  auto left = grow.drain(a.address);
  BOOST_REQUIRE_MESSAGE(left, why(left));
  BOOST_TEST(*left == 2u);
  auto made_before = [&] {
    std::lock_guard guard{r.mtx};
    return made_by(r.out, a.pid());
  }();
  r.feed(100);
  auto err = grow.add_workers(a.address, 1);
  BOOST_REQUIRE_MESSAGE(!err, actorflow::to_string_any(err));
  r.feed(200);
  auto out = r.finish();
  check_exact(out, 900);
  check_once(calls, 900);
  BOOST_TEST(calls.calls_by(a.pid()) == made_by(out, a.pid()));
  BOOST_TEST(made_by(out, a.pid()) > made_before);
}

BOOST_AUTO_TEST_CASE(a_node_killed_while_it_drains_loses_nothing) {
  // SIGTERM, then SIGKILL before the drain is through: the driver sends the
  // items of a's workers again (some may run twice), the output is exact.
  test_node a;
  test_node b;
  fed_run r{sys, {{a.address, 2}, {b.address, 2}}, opts()};
  r.feed(600);
  BOOST_REQUIRE(r.wait_until_made_by(a.pid()));
  a.proc->kill(SIGTERM);
  a.proc->kill(SIGKILL);
  r.feed(200);
  check_exact(r.finish(), 800);
}

BOOST_AUTO_TEST_CASE(a_stage_whose_last_node_drains_fails_clearly) {
  // Nobody is left to take the rest: the pipeline fails and says why
  // instead of waiting for good.
  test_node a;
  fed_run r{sys, {{a.address, 1}}, opts()};
  r.feed(20);
  BOOST_REQUIRE(r.wait_for(1));
  a.proc->kill(SIGTERM);
  auto drained = a.proc->expect("DRAINED ", std::chrono::seconds{9});
  BOOST_REQUIRE(drained);
  BOOST_TEST(*drained == "1");
  r.tx.reset();
  auto done = r.run->wait();
  BOOST_REQUIRE(!done);
  BOOST_TEST((code_of(done.error()) == error_code::workers_lost));
  BOOST_TEST(actorflow::what(done.error()).find("drained")
             != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
