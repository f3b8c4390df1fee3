// Distributed stages surviving the loss of workers: nodes killed with
// SIGKILL mid-stream (repeated), hung with SIGSTOP (heartbeat), all lost,
// and a driver dying while a node works for it.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <signal.h>

#include "actorflow/detail/atoms.hpp"
#include "actorflow/remote/detail/supervise.hpp"
#include "support/remote_support.hpp"

using namespace actorflow_test;
using actorflow::error_code;

namespace {

/// Runs `n` items through "slow_square" on `where` (in order, or in
/// completion order if `ordered` is false); once `kill_at` results came out
/// and every victim runs its workers, sends `sig` to each victim.
///
/// A kill must wait for the victim's workers: the workers of the other node
/// (or a local one) can emit `kill_at` results before the driver connected
/// to a slow victim, and a node that is dead before the connect is a refused
/// connection (`connect_failed`, see remote_test), not a lost worker.
///
/// The run's channels hold `capacity` items each. While the signal waits,
/// the bounded-memory promise keeps everything past result `kill_at` to
/// these channels and the stage's window (a few hundred items): the stream
/// cannot end before the victims are signalled, so their workers are still
/// running, not done and gone (with the default capacity, 8192 int64s fit
/// into the signal's input channel alone, and the other workers could do
/// every item before a slow victim's workers got one).
caf::expected<std::vector<int64_t>> run_and_signal(
  caf::actor_system& sys, actorflow::placement where,
  actorflow::remote_options opts, int32_t n, int32_t kill_at,
  std::vector<const test_node*> victims, int sig = SIGKILL, bool ordered = true,
  std::shared_ptr<actorflow::pipeline_monitor> monitor = nullptr) {
  constexpr size_t capacity = 16;
  struct victim {
    std::unique_ptr<node_monitor> node;
    uint64_t workers = 0;
    pid_t pid = 0;
  };
  std::vector<victim> vs;
  for (auto* v : victims) {
    uint64_t workers = 0;
    for (auto& w : where)
      if (w.where == v->address)
        workers += w.workers;
    vs.push_back({std::make_unique<node_monitor>(sys, *v), workers, v->pid()});
  }
  auto seen = std::make_shared<std::atomic<int32_t>>(0);
  auto unready = std::make_shared<std::atomic<bool>>(false);
  // Runs in the inspect stage's actor and blocks it while it waits: the
  // pipeline holds still meanwhile, the node's workers get spawned.
  auto signal = [seen, unready, kill_at, &vs, sig](const int64_t&) {
    if (++*seen != kill_at)
      return;
    for (auto& v : vs)
      if (!eventually([&] { return v.node->running() == v.workers; }))
        *unready = true;
    for (auto& v : vs)
      ::kill(v.pid, sig);
  };
  auto input = actorflow::iota(int32_t{0}, n);
  auto result = ordered
                  ? actorflow::remote_parallel_then<int64_t>(
                      std::move(input), std::move(where), "slow_square", opts)
                      .inspect(signal)
                      .collect()
                      .run(sys, {.capacity = capacity, .monitor = monitor})
                  : actorflow::remote_parallel_then_unordered<int64_t>(
                      std::move(input), std::move(where), "slow_square", opts)
                      .inspect(signal)
                      .collect()
                      .run(sys, {.capacity = capacity, .monitor = monitor});
  BOOST_TEST(!unready->load(),
             "a victim did not run its workers within 5 s of result "
               << kill_at << ": signalled anyway");
  BOOST_TEST(seen->load() >= kill_at,
             "only " << seen->load() << " results: no signal sent");
  return result;
}

/// An actor that does nothing until it is stopped.
caf::behavior idle_actor() {
  return {
    [](int8_t) {},
  };
}

/// A supervisor in miniature: holds the lease of a worker that got `work`
/// (as `stand_in`) but never binds it, until it is stopped.
actorflow::task<> hold_lease(actorflow::remote_handle work, caf::actor stand_in,
                             actorflow::receiver<int> wait) {
  actorflow::detail::remote_worker_lease lease{work, {}};
  lease.imported(std::move(stand_in));
  while (auto x = co_await wait.recv()) {
    (void)x; // discard
  }
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(remote_failure, driver_fixture)

BOOST_AUTO_TEST_CASE(kill_9_of_a_node_mid_stream_loses_and_duplicates_nothing) {
  constexpr int32_t n = 2000;
  auto expected = squares(n);
  // 10 kill points per run (about 8 s under ASan on 2 busy cores; 20 took
  // over the 30 s limit of a test case beside a hog and two other suites);
  // tools/soak.sh and the chaos trials repeat them at other moments.
  constexpr int rounds = 10;
  for (int round = 0; round < rounds; ++round) {
    test_node a;
    test_node b;
    // Kill at different points: early, middle, late; but at least one
    // window (64 items per worker) before the end: the workers of a later
    // kill may have been handed every item, done them and ended already,
    // and then none is lost.
    constexpr int32_t window = 64 * 4;
    auto kill_at = n / 20 + round * (n - window - 2 * (n / 20)) / (rounds - 1);
    auto lost = std::make_shared<std::atomic<int>>(0);
    auto o = opts();
    o.on_worker_lost = [lost, where = a.address](const std::string& at,
                                                 const caf::error&) {
      if (at == where)
        ++*lost;
    };
    auto result = run_and_signal(sys, {{a.address, 2}, {b.address, 2}}, o, n,
                                 kill_at, {&a});
    BOOST_REQUIRE_MESSAGE(result,
                          "round " << round << ": " << error_text(result));
    BOOST_REQUIRE_MESSAGE(*result == expected,
                          "round " << round << ": output differs");
    // Both workers of the killed node were lost mid-stream (the recovery
    // path ran), none of the other node's.
    BOOST_REQUIRE_MESSAGE(lost->load() == 2, "round "
                                               << round << ": " << lost->load()
                                               << " workers reported lost");
  }
}

BOOST_AUTO_TEST_CASE(kill_9_beside_a_local_worker) {
  constexpr int32_t n = 2000;
  test_node a;
  auto lost = std::make_shared<std::atomic<int>>(0);
  auto o = opts();
  o.on_worker_lost = [lost](const std::string&, const caf::error&) {
    ++*lost;
  };
  auto monitor = std::make_shared<actorflow::pipeline_monitor>();
  auto result = run_and_signal(sys, {{a.address, 2}, {"local", 1}}, o, n, n / 4,
                               {&a}, SIGKILL, true, monitor);
  BOOST_REQUIRE_MESSAGE(result, error_text(result));
  BOOST_TEST((*result == squares(n)));
  BOOST_TEST(lost->load() == 2);
  // The statistics count the losses too, at the two workers' supervisors.
  auto st = monitor->stats();
  BOOST_TEST_INFO(actorflow::to_string(st));
  BOOST_TEST(st.workers_lost == 2u);
  size_t supervisors = 0;
  for (auto& s : st.stages)
    if (s.workers_lost > 0) {
      BOOST_TEST(s.workers_lost == 1u, s.name);
      BOOST_TEST(s.name.find(".supervisor") != std::string::npos, s.name);
      ++supervisors;
    }
  BOOST_TEST(supervisors == 2u);
}

//! Contract: a kill -9 right after the node spawned its workers (their
//! ends bound, their first items on the way) loses and duplicates nothing
//! either: the window in which the work channel has not yet seen the
//! workers' down, while their supervisors already reported them lost.
BOOST_AUTO_TEST_CASE(kill_9_right_after_the_spawn) {
  constexpr int32_t n = 2000;
  for (int round = 0; round < 10; ++round) {
    test_node a;
    auto lost = std::make_shared<std::atomic<int>>(0);
    auto o = opts();
    o.on_worker_lost = [lost](const std::string&, const caf::error&) {
      ++*lost;
    };
    auto result = run_and_signal(sys, {{a.address, 2}, {"local", 1}}, o, n, 1,
                                 {&a});
    BOOST_REQUIRE_MESSAGE(result,
                          "round " << round << ": " << error_text(result));
    BOOST_REQUIRE_MESSAGE(*result == squares(n),
                          "round " << round << ": output differs");
    BOOST_TEST(lost->load() == 2);
  }
}

//! Contract: a work channel told to forget a lost worker's end (as its
//! supervisor does before it reports the loss, so that the items the
//! scatter sends again reach live workers only) hands that end no further
//! item, although the worker still asks for items: its down message, which
//! would make the channel drop the end too, has not come.
BOOST_AUTO_TEST_CASE(a_forgotten_end_gets_no_more_items) {
  // Fewer than the capacity: the items wait in the channel until this
  // thread reads them, after the close.
  constexpr int32_t n = 32;
  auto ch = actorflow::channel<int32_t>(sys, 64, {8});
  BOOST_REQUIRE(ch);
  auto [tx, rx] = std::move(*ch);
  auto h = actorflow::export_handle(rx);
  auto got = std::make_shared<std::atomic<int>>(0);
  // The lost worker: binds the end and keeps asking for items (it stays
  // alive, so no down message reaches the channel).
  auto lost = actorflow::spawn_worker(sys, [got, h]() -> actorflow::task<> {
    auto in = actorflow::import_receiver<int32_t>(h);
    while (co_await in.recv())
      ++*got;
  });
  // Nobody else asks yet: the first item proves that it bound the end.
  BOOST_REQUIRE(tx.blocking_send(-1));
  BOOST_REQUIRE(eventually([&] { return got->load() == 1; }));
  caf::scoped_actor self{sys};
  bool known = false;
  self
    ->request(h.channel, std::chrono::seconds{2},
              actorflow::detail::forget_atom::value, h.id)
    .receive([&](bool x) { known = x; },
             [](caf::error& err) { BOOST_ERROR(caf::to_string(err)); });
  BOOST_TEST(known);
  for (int32_t i = 0; i < n; ++i)
    BOOST_REQUIRE(tx.blocking_send(i));
  tx.close();
  int32_t here = 0;
  while (rx.blocking_recv())
    ++here;
  BOOST_TEST(here == n);
  BOOST_TEST(got->load() == 1);
  lost.cancel(); // its end never sees the end of the stream
  BOOST_TEST(contains(actorflow::what(lost.join()), "stopped"));
}

BOOST_AUTO_TEST_CASE(unordered_variant_survives_a_kill_too) {
  constexpr int32_t n = 2000;
  test_node a;
  test_node b;
  auto result = run_and_signal(sys, {{a.address, 2}, {b.address, 2}}, opts(), n,
                               n / 3, {&a}, SIGKILL, false);
  BOOST_REQUIRE_MESSAGE(result, error_text(result));
  std::sort(result->begin(), result->end());
  BOOST_TEST((*result == squares(n)));
}

BOOST_AUTO_TEST_CASE(no_worker_left_is_an_error) {
  constexpr int32_t n = 5000;
  test_node a;
  test_node b;
  auto t0 = std::chrono::steady_clock::now();
  auto result = run_and_signal(sys, {{a.address, 2}, {b.address, 1}}, opts(), n,
                               n / 4, {&a, &b});
  BOOST_REQUIRE(!result);
  BOOST_TEST(code_of(result.error()) == error_code::workers_lost,
             actorflow::to_string_any(result.error()));
  BOOST_TEST(contains(actorflow::what(result.error()), "slow_square"));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds{5}));
}

BOOST_AUTO_TEST_CASE(a_hung_node_is_detected_by_heartbeat) {
  // The driver's heartbeat: 100 ms, connection timeout 2 s (see
  // prepare_driver; 1 s made busy nodes look lost on a loaded 2-core
  // machine). A node stopped with SIGSTOP mid-stream is lost after about
  // two seconds; the other node finishes the job.
  constexpr int32_t n = 2000;
  test_node a;
  test_node b;
  auto t0 = std::chrono::steady_clock::now();
  auto lost = std::make_shared<std::atomic<int>>(0);
  auto o = opts();
  // Counts the stopped node's workers only: on a loaded machine a busy node
  // may miss a heartbeat too, which the pipeline survives as well.
  o.on_worker_lost = [lost, where = a.address](const std::string& at,
                                               const caf::error&) {
    if (at == where)
      ++*lost;
  };
  auto result = run_and_signal(sys, {{a.address, 2}, {b.address, 2}}, o, n,
                               n / 4, {&a}, SIGSTOP);
  auto took = std::chrono::steady_clock::now() - t0;
  a.proc->kill(SIGKILL); // a stopped process still dies with SIGKILL
  BOOST_REQUIRE_MESSAGE(result, error_text(result));
  BOOST_TEST((*result == squares(n)));
  BOOST_TEST(lost->load() == 2);
  BOOST_TEST((took >= std::chrono::milliseconds{1900}));
  BOOST_TEST((took < std::chrono::seconds{8}));
}

BOOST_AUTO_TEST_CASE(a_dying_driver_leaves_the_node_clean) {
  test_node a;
  node_monitor node{sys, a};
  {
    child_process driver{{ACTORFLOW_TEST_DRIVER, a.address}};
    BOOST_REQUIRE(driver.expect("RUNNING"));
    // RUNNING comes with the first result: the other worker may still be
    // on its way.
    BOOST_TEST(eventually([&] { return node.running() == 2u; }));
    driver.kill(SIGKILL);
    driver.wait();
  }
  // The node's workers for that driver stop...
  BOOST_TEST(eventually([&] { return node.running() == 0; }));
  // ... and it keeps serving new pipelines.
  auto result = actorflow::remote_parallel_then<int64_t>(
                  actorflow::iota(int32_t{0}, int32_t{1000}), {{a.address, 2}},
                  "square", opts())
                  .collect()
                  .run(sys);
  BOOST_REQUIRE_MESSAGE(result, error_text(result));
  BOOST_TEST((*result == squares(1000)));
}

/// How long a node may take to stop its workers once their pipeline ended
/// (see below).
constexpr std::chrono::milliseconds stop_bound{300};

//! Contract: when its driver dies (kill -9), a node's workers stop within
//! one item's work (10 ms), not after the input they hold. Measured on an
//! idle machine: well under 100 ms. The check allows `stop_bound`: CPU hogs
//! beside the test delay the node's threads (115 ms once in 137 soak runs),
//! and a worker that worked through a read-ahead of 32 items of 10 ms
//! would still fail it.
BOOST_AUTO_TEST_CASE(a_killed_driver_stops_slow_node_workers_within_one_item) {
  test_node a;
  node_monitor node{sys, a};
  child_process driver{{ACTORFLOW_TEST_DRIVER, a.address, "sleepy_square"}};
  BOOST_REQUIRE(driver.expect("RUNNING"));
  BOOST_TEST(eventually([&] { return node.running() == 2u; }));
  auto t0 = std::chrono::steady_clock::now();
  driver.kill(SIGKILL);
  driver.wait();
  BOOST_TEST(eventually([&] { return node.running() == 0; }));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - t0);
  BOOST_TEST_MESSAGE("kill -9 of the driver -> the node's workers stopped: "
                     << took.count() << " ms");
  BOOST_TEST(took.count() <= stop_bound.count());
}

//! Contract: cancelling a distributed pipeline stops the node's workers
//! within one item's work (10 ms), not after the input they hold (see the
//! test above for the bound).
BOOST_AUTO_TEST_CASE(cancel_stops_the_nodes_workers_within_one_item) {
  test_node a;
  node_monitor node{sys, a};
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto o = opts();
  auto run = actorflow::remote_parallel_then<int64_t>(
               actorflow::iota(int32_t{0}), {{a.address, 2}}, "sleepy_square",
               o)
               .for_each([seen](int64_t) { ++*seen; })
               .start(sys);
  BOOST_REQUIRE(eventually([&] { return seen->load() >= 10; }));
  auto t0 = std::chrono::steady_clock::now();
  run.cancel();
  auto res = run.wait();
  BOOST_REQUIRE(!res);
  BOOST_TEST(code_of(res.error()) == error_code::cancelled,
             actorflow::to_string_any(res.error()));
  BOOST_TEST(eventually([&] { return node.running() == 0; }));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - t0);
  BOOST_TEST_MESSAGE("cancel -> the node's workers stopped: " << took.count()
                                                              << " ms");
  BOOST_TEST(took.count() <= stop_bound.count());
}

//! Contract: a node that dies while the driver waits for its answer to a
//! spawn request is a lost worker, reported at once (CAF 0.17 would fail
//! the request only at the spawn timeout), not a failed pipeline: the other
//! node's workers go on with every item.
BOOST_AUTO_TEST_CASE(a_node_lost_during_its_spawn_is_a_lost_worker) {
  test_node a;
  child_process mute{{ACTORFLOW_TEST_MUTE_NODE}};
  auto port = mute.expect("PORT ");
  BOOST_REQUIRE_MESSAGE(port, "the mute node did not report its port");
  auto mute_address = "127.0.0.1:" + *port;
  auto lost = std::make_shared<std::atomic<int>>(0);
  auto seen = std::make_shared<std::atomic<int64_t>>(0);
  auto o = opts(); // spawn timeout: 8 s
  o.on_worker_lost = [lost, mute_address](const std::string& at,
                                          const caf::error&) {
    if (at == mute_address)
      ++*lost;
  };
  auto run = actorflow::remote_parallel_then<int64_t>(
               actorflow::iota(int32_t{0}), {{a.address, 1}, {mute_address, 1}},
               "square", o)
               .for_each([seen](int64_t) { ++*seen; })
               .start(sys);
  BOOST_REQUIRE(mute.expect("SPAWN"));
  mute.kill(SIGKILL);
  mute.wait();
  // Well within the spawn timeout.
  BOOST_TEST(eventually([&] { return lost->load() == 1; }, 4000ms));
  auto after = seen->load();
  BOOST_TEST(eventually([&] { return seen->load() > after + 1000; }));
  run.cancel();
  auto res = run.wait();
  BOOST_REQUIRE(!res);
  BOOST_TEST(code_of(res.error()) == error_code::cancelled,
             actorflow::to_string_any(res.error()));
}

//! Contract: a supervisor stopped after its worker on a node got the channel
//! ends, but before that worker bound them (it had not taken its first step,
//! and its node may die before it does), abandons them: the channel does not
//! wait for an end that nobody will bind or close, and the actor system can
//! shut down. (Found by a soak: ~actor_system hung in 2 of 255 runs of the
//! remote suite beside 3 CPU hogs.)
BOOST_AUTO_TEST_CASE(
  a_stopped_supervisor_abandons_the_ends_of_an_unstarted_worker) {
  auto ch = actorflow::channel<int>(sys, 8);
  auto wait = actorflow::channel<int>(sys, 1);
  BOOST_REQUIRE(ch && wait);
  auto work = actorflow::export_handle(ch->rx); // the worker's end
  ch->rx = actorflow::receiver<int>{};          // only the exported end is left
  // Stands for the worker on the node: it never binds the end.
  auto stand_in = sys.spawn(idle_actor);
  auto supervisor = actorflow::spawn_worker(sys, hold_lease, work, stand_in,
                                            std::move(wait->rx));
  caf::scoped_actor self{sys};
  self->monitor(work.channel);
  self->monitor(stand_in);
  supervisor.cancel();
  BOOST_TEST(code_of(supervisor.join()) == error_code::worker_failed);
  ch->tx = actorflow::sender<int>{}; // the channel's last sender
  bool channel_down = false;
  bool stand_in_down = false;
  for (bool timed_out = false; !timed_out && !(channel_down && stand_in_down);)
    self->receive(
      [&](caf::down_msg& dm) {
        channel_down |= dm.source == work.channel.address();
        stand_in_down |= dm.source == stand_in.address();
      },
      caf::after(std::chrono::seconds{5}) >> [&] { timed_out = true; });
  BOOST_TEST(channel_down, "the channel still counts the end nobody bound");
  BOOST_TEST(stand_in_down, "the stand-in worker was not stopped");
}

BOOST_AUTO_TEST_SUITE_END()

//! Contract: a failed distributed pipeline leaves no actor behind, whatever
//! failed (refused port, unknown stage, type mismatch, connect timeout):
//! after each of 50 runs the count of running actors is back at its
//! baseline, and the actor system then shuts down in under 2 s. A refused
//! port's error does not send the user looking at TLS.
BOOST_AUTO_TEST_CASE(failed_pipelines_leave_no_actor_behind) {
  watchdog dog{std::chrono::seconds{60}};
  test_node node;
  refused_port refused_at;
  auto refused = refused_at.address();
  auto reg = driver_stages();
  auto cfg = std::make_unique<caf::actor_system_config>();
  auto sys = std::make_unique<caf::actor_system>(prepare_driver(*cfg, *reg));
  auto o = driver_options(reg);
  auto& registry = sys->registry();
  auto baseline = registry.running();
  // A successful run first: it connects to the node, and ends clean too.
  {
    auto ok = actorflow::remote_parallel_then<int64_t>(
                actorflow::iota(int32_t{0}, int32_t{100}), {{node.address, 1}},
                "square", o)
                .collect()
                .run(*sys);
    BOOST_REQUIRE_MESSAGE(ok, error_text(ok));
  }
  BOOST_TEST(eventually([&] { return registry.running() <= baseline; }));
  for (int run = 0; run < 50; ++run) {
    // A listener of its own per run: one that never accepts fills its
    // backlog, and then even connect() itself blocks.
    silent_listener silent;
    auto quiet = "127.0.0.1:" + std::to_string(silent.port);
    auto run_opts = o;
    actorflow::placement where{{node.address, 2}};
    std::string stage = "square";
    error_code want = error_code::none;
    switch (run % 4) {
      case 0:
        want = error_code::connect_failed;
        where = {{node.address, 1}, {refused, 1}};
        break;
      case 1:
        want = error_code::unknown_stage;
        stage = "no_such_stage";
        break;
      case 2:
        want = error_code::type_mismatch;
        stage = "blob_value";
        break;
      default:
        want = error_code::timeout;
        where = {{node.address, 1}, {quiet, 1}};
        run_opts.connect_timeout = std::chrono::milliseconds{300};
        break;
    }
    auto result = actorflow::remote_parallel_then<int64_t>(
                    actorflow::iota(int32_t{0}, int32_t{5000}), where, stage,
                    run_opts)
                    .collect()
                    .run(*sys);
    BOOST_REQUIRE_MESSAGE(!result, "run " << run << " succeeded");
    BOOST_TEST(code_of(result.error()) == want,
               "run " << run << ": "
                      << actorflow::to_string_any(result.error()));
    // A refused connection never got as far as TLS: no hint about it.
    if (want == error_code::connect_failed)
      BOOST_TEST(!contains(actorflow::what(result.error()), "TLS"),
                 actorflow::what(result.error()));
    BOOST_TEST(eventually([&] { return registry.running() <= baseline; }),
               "run " << run << ": " << registry.running()
                      << " actors running, baseline " << baseline);
  }
  auto t0 = std::chrono::steady_clock::now();
  sys.reset();
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST((took < std::chrono::seconds{2}),
             "shutdown took "
               << std::chrono::duration_cast<std::chrono::milliseconds>(took)
                    .count()
               << " ms");
}
