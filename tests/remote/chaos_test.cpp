// Chaos: a distributed pipeline over three nodes behind faulty links, with
// a node killed (kill -9) or stopped (SIGSTOP) at a random moment, trial
// after trial.
//
//   remote_chaos [Boost.Test arguments] -- [--trials N] [--seed S]
//                [--items N]
//
// ctest runs a few trials (label `chaos`) with the fixed seed 1, so that
// its runs repeat; tools/chaos.sh runs many, from a random seed. Trial i
// uses the seed S + i (printed), so a trial that fails runs again alone
// with `--trials 1 --seed <its seed>`.
//
// Each trial starts three nodes, each behind a `link_proxy` (see
// support/link_proxy.hpp: why a proxy and not netem, and what "loss" and
// "reordering" mean on a TCP link), and runs remote_parallel_then of
// "slow_square" with two workers per node. Its random choices:
//
// - the fault: kill -9 of one node (45 %), SIGSTOP of one node (45 %) or
//   kill -9 of all three (10 %, so that "no worker left" is tried too);
// - the moment: after the k-th output item, k uniform in [1, items), once
//   the victims run their workers (a node dead before the driver connected
//   is a refused connection, which is an error by design, see remote_test);
// - the links: delay (1-4 ms), jitter (0-6 ms per chunk: TCP's stand-in for
//   reordering) or loss (up to 1 ms jitter plus, at another random moment,
//   one link stalled for 0.1-3 s or cut).
//
// A trial passes with the sequential result, in order, each item once; or,
// when every worker was lost, with the error `workers_lost`. It must end
// within 30 s (else it counts as hung and is cancelled). Recovery time:
// from the fault to the output item that ends the longest pause after it
// (the hole the lost workers left; the very next item is mostly one that
// was on its way already, and is reported too).

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <signal.h>

#include "support/link_proxy.hpp"
#include "support/remote_support.hpp"

using namespace actorflow_test;
using actorflow::error_code;

namespace {

using clock_type = std::chrono::steady_clock;

struct chaos_args {
  int trials = 4;
  uint64_t seed = 1;
  int32_t items = 3000;
};

chaos_args parse_args() {
  chaos_args result;
  auto& master = boost::unit_test::framework::master_test_suite();
  for (int i = 1; i + 1 < master.argc; ++i) {
    std::string key = master.argv[i];
    std::string val = master.argv[i + 1];
    if (key == "--trials")
      result.trials = std::stoi(val);
    else if (key == "--seed")
      result.seed = std::stoull(val);
    else if (key == "--items")
      result.items = std::stoi(val);
    else
      continue;
    ++i;
  }
  return result;
}

enum class fault_kind { kill9, sigstop, kill9_all };

const char* to_string(fault_kind x) {
  switch (x) {
    case fault_kind::kill9:
      return "kill -9";
    case fault_kind::sigstop:
      return "SIGSTOP";
    default:
      return "kill -9 of all";
  }
}

enum class link_mode { delay, jitter, loss };

const char* to_string(link_mode x) {
  switch (x) {
    case link_mode::delay:
      return "delay";
    case link_mode::jitter:
      return "jitter";
    default:
      return "loss";
  }
}

/// The random choices of one trial.
struct trial_plan {
  uint64_t seed = 0;
  fault_kind fault = fault_kind::kill9;
  int victim = 0;
  int32_t fault_at = 1;
  link_mode mode = link_mode::delay;
  link_delay delay;
  // For link_mode::loss: one link stalled for `stall` (cut if zero) after
  // output item `link_at`.
  int link = 0;
  int32_t link_at = 1;
  std::chrono::milliseconds stall{0};

  std::string describe() const {
    std::string result = std::string{to_string(fault)};
    if (fault != fault_kind::kill9_all)
      result += " of node " + std::to_string(victim);
    result += " after item " + std::to_string(fault_at)
              + ", links: " + to_string(mode) + " "
              + std::to_string(delay.base.count() / 1000) + "+"
              + std::to_string(delay.jitter.count() / 1000) + " ms";
    if (mode == link_mode::loss)
      result += ", link " + std::to_string(link)
                + (stall.count() > 0
                     ? " stalled " + std::to_string(stall.count()) + " ms"
                     : std::string{" cut"})
                + " after item " + std::to_string(link_at);
    return result;
  }
};

trial_plan make_plan(uint64_t seed, int32_t items) {
  std::mt19937_64 rng{seed};
  auto pick = [&](int64_t lo, int64_t hi) { // [lo, hi]
    return std::uniform_int_distribution<int64_t>{lo, hi}(rng);
  };
  trial_plan p;
  p.seed = seed;
  auto f = pick(0, 99);
  p.fault = f < 45   ? fault_kind::kill9
            : f < 90 ? fault_kind::sigstop
                     : fault_kind::kill9_all;
  p.victim = static_cast<int>(pick(0, 2));
  p.fault_at = static_cast<int32_t>(pick(1, items - 1));
  p.mode = static_cast<link_mode>(pick(0, 2));
  using std::chrono::microseconds;
  switch (p.mode) {
    case link_mode::delay:
      p.delay = {microseconds{pick(1000, 4000)}, microseconds{0}};
      break;
    case link_mode::jitter:
      p.delay = {microseconds{0}, microseconds{pick(1000, 6000)}};
      break;
    case link_mode::loss:
      p.delay = {microseconds{0}, microseconds{pick(0, 1000)}};
      p.link = static_cast<int>(pick(0, 2));
      p.link_at = static_cast<int32_t>(pick(1, items - 1));
      if (pick(0, 1) == 0)
        p.stall = std::chrono::milliseconds{pick(100, 3000)};
      break;
  }
  return p;
}

/// Asks a node (through its link) how many workers it runs.
uint64_t running_workers(caf::actor_system& sys, const caf::actor& node) {
  uint64_t result = 999;
  caf::scoped_actor self{sys};
  self
    ->request(node, std::chrono::seconds{2},
              actorflow::detail::node_info_atom::value)
    .receive([&](uint64_t x) { result = x; }, [](caf::error&) {});
  return result;
}

/// What one trial saw.
struct trial_result {
  bool ok = false;   // the output or the error is right
  bool hung = false; // did not end in time
  bool no_worker_left = false;
  std::string error; // the pipeline's error, if any
  size_t lost = 0;
  size_t duplicated = 0;
  size_t reordered = 0;
  int workers_lost = 0;
  bool fired = false;
  bool unready = false; // a victim did not run its workers before the fault
  bool gone = false;    // the victims were lost (a cut link) before the fault
  std::optional<double> first_ms;    // fault -> next output item
  std::optional<double> recovery_ms; // fault -> end of the longest pause
};

/// Compares `out` with the squares of [0, n): items missing, extra copies,
/// and items that came after a later one.
void check_output(const std::vector<int64_t>& out, int32_t n, trial_result& r) {
  std::vector<int> count(static_cast<size_t>(n), 0);
  int64_t prev = -1;
  for (auto y : out) {
    auto i = static_cast<int64_t>(std::llround(std::sqrt(double(y))));
    if (i < 0 || i >= n || i * i != y) {
      ++r.duplicated; // not an output of any input: count it as extra
      continue;
    }
    if (++count[static_cast<size_t>(i)] > 1)
      ++r.duplicated;
    if (i < prev)
      ++r.reordered;
    prev = std::max(prev, i);
  }
  for (auto c : count)
    if (c == 0)
      ++r.lost;
}

trial_result run_trial(const trial_plan& plan, int32_t n) {
  watchdog dog{std::chrono::seconds{60}};
  trial_result r;
  test_node nodes[3];
  std::unique_ptr<link_proxy> links[3];
  actorflow::placement where;
  for (int i = 0; i < 3; ++i) {
    links[i] = std::make_unique<link_proxy>(port_of(nodes[i]), plan.delay,
                                            plan.seed * 3 + i);
    where.push_back({links[i]->address(), 2});
  }
  auto reg = driver_stages();
  caf::actor_system_config cfg;
  caf::actor_system sys{prepare_driver(cfg, *reg)};
  auto opts = driver_options(reg);
  auto lost = std::make_shared<std::atomic<int>>(0);
  auto lost_at = std::make_shared<std::array<std::atomic<int>, 3>>();
  opts.on_worker_lost = [lost, lost_at, where](const std::string& at,
                                               const caf::error&) {
    ++*lost;
    for (size_t i = 0; i < where.size(); ++i)
      if (where[i].where == at)
        ++(*lost_at)[i];
  };
  // The victims, connected through their links (the pipeline's supervisors
  // then share these connections).
  std::vector<int> victims;
  if (plan.fault == fault_kind::kill9_all)
    victims = {0, 1, 2};
  else
    victims = {plan.victim};
  std::vector<caf::actor> handles;
  for (auto v : victims) {
    auto hdl = try_connect(sys, where[v].where);
    BOOST_REQUIRE_MESSAGE(hdl, "cannot reach node "
                                 << v << " through its "
                                 << "link: " << error_text(hdl));
    handles.push_back(*hdl);
  }
  // Output times (ns since t0), written by the inspect stage only.
  auto t0 = clock_type::now();
  auto ns_since_t0 = [t0] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clock_type::now() - t0)
      .count();
  };
  auto stamps = std::make_shared<std::vector<int64_t>>();
  stamps->reserve(static_cast<size_t>(n));
  auto fault_ns = std::make_shared<std::atomic<int64_t>>(-1);
  auto unready = std::make_shared<std::atomic<bool>>(false);
  auto gone = std::make_shared<std::atomic<bool>>(false);
  auto seen = std::make_shared<std::atomic<int32_t>>(0);
  // Runs in the inspect stage's actor: waits (bounded) for the victims'
  // workers, then strikes. The pipeline holds still meanwhile.
  auto strike = [&, plan](const int64_t&) {
    auto k = ++*seen;
    stamps->push_back(ns_since_t0());
    if (plan.mode == link_mode::loss && k == plan.link_at) {
      if (plan.stall.count() > 0)
        links[plan.link]->stall(plan.stall);
      else
        links[plan.link]->cut();
    }
    if (k != plan.fault_at)
      return;
    // (A victim whose link was cut already is lost: nothing to wait for.)
    for (size_t i = 0; i < victims.size(); ++i)
      if (!eventually([&] {
            return (*lost_at)[victims[i]] > 0
                   || running_workers(sys, handles[i]) == 2;
          }))
        *unready = true;
    bool all_gone = true;
    for (auto v : victims)
      all_gone = all_gone && (*lost_at)[v] > 0;
    *gone = all_gone;
    for (auto v : victims)
      nodes[v].proc->kill(plan.fault == fault_kind::sigstop ? SIGSTOP
                                                            : SIGKILL);
    *fault_ns = ns_since_t0();
  };
  auto run = actorflow::remote_parallel_then<int64_t>(
               actorflow::iota(int32_t{0}, n), where, "slow_square", opts)
               .inspect(strike)
               .collect()
               .start(sys);
  auto waiter = std::async(std::launch::async,
                           [run]() mutable { return run.wait(); });
  if (waiter.wait_for(std::chrono::seconds{30}) != std::future_status::ready) {
    r.hung = true;
    run.cancel();
    if (waiter.wait_for(std::chrono::seconds{10})
        != std::future_status::ready) {
      std::fprintf(stderr,
                   "*** chaos: trial with seed %llu hung and ignored "
                   "cancel: aborting\n",
                   static_cast<unsigned long long>(plan.seed));
      std::fflush(stderr);
      print_thread_stacks();
      std::_Exit(4);
    }
  }
  auto res = waiter.get();
  r.workers_lost = lost->load();
  r.unready = unready->load();
  r.gone = gone->load();
  r.fired = fault_ns->load() >= 0;
  if (r.hung) {
    r.error = "hung";
  } else if (res) {
    check_output(*res, n, r);
    r.ok = r.lost == 0 && r.duplicated == 0 && r.reordered == 0;
  } else {
    r.error = actorflow::to_string_any(res.error());
    r.no_worker_left = code_of(res.error()) == error_code::workers_lost;
    // workers_lost is right only when every worker was lost.
    r.ok = r.no_worker_left && r.workers_lost == 6;
  }
  // From the fault to the next output item, and to the item that ends the
  // longest pause after the fault: items already on their way come out at
  // once, the hole that the lost workers left closes later.
  if (auto f = fault_ns->load(); f >= 0 && res) {
    auto it = std::upper_bound(stamps->begin(), stamps->end(), f);
    if (it != stamps->end()) {
      r.first_ms = static_cast<double>(*it - f) / 1e6;
      auto end = it;
      int64_t worst = *it - f;
      for (auto j = it + 1; j != stamps->end(); ++j)
        if (*j - *(j - 1) > worst) {
          worst = *j - *(j - 1);
          end = j;
        }
      r.recovery_ms = static_cast<double>(*end - f) / 1e6;
    }
  }
  for (auto& node : nodes)
    node.proc->kill(SIGKILL); // a stopped node too
  return r;
}

double percentile(std::vector<double> xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

std::string figures(const std::vector<double>& xs) {
  if (xs.empty())
    return "none";
  char buf[128];
  std::snprintf(buf, sizeof(buf), "median %.1f ms, max %.1f ms (%zu)",
                percentile(xs, 0.5), percentile(xs, 1.0), xs.size());
  return buf;
}

} // namespace

//! Contract: under a node killed (kill -9) or stopped (SIGSTOP) at a random
//! moment, with delay, jitter, stalls or cuts on the links, every trial of a
//! remote_parallel_then over three nodes yields the sequential result in
//! order, each item once, or `workers_lost` when no worker is left, and
//! never hangs.
BOOST_AUTO_TEST_CASE(faults_at_random_moments_lose_nothing) {
  auto args = parse_args();
  BOOST_TEST_MESSAGE("chaos: " << args.trials << " trials, seed " << args.seed
                               << ", " << args.items << " items each");
  int ok = 0;
  int hung = 0;
  int no_worker_left = 0;
  int unready = 0;
  size_t lost = 0;
  size_t duplicated = 0;
  size_t reordered = 0;
  std::map<std::string, int> errors;
  std::map<std::string, std::vector<double>> first_ms;
  std::map<std::string, std::vector<double>> recovery_ms;
  for (int t = 0; t < args.trials; ++t) {
    auto plan = make_plan(args.seed + static_cast<uint64_t>(t), args.items);
    auto t0 = clock_type::now();
    auto r = run_trial(plan, args.items);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                  clock_type::now() - t0)
                  .count();
    ok += r.ok ? 1 : 0;
    hung += r.hung ? 1 : 0;
    no_worker_left += r.no_worker_left && r.ok ? 1 : 0;
    unready += r.unready ? 1 : 0;
    lost += r.lost;
    duplicated += r.duplicated;
    reordered += r.reordered;
    if (!r.ok && !r.error.empty())
      ++errors[r.error.substr(0, r.error.find(':'))];
    std::string kind = to_string(plan.fault);
    // A victim lost before its fault (its link cut) shows no recovery.
    if (r.first_ms && !r.gone) {
      first_ms[kind].push_back(*r.first_ms);
      recovery_ms[kind].push_back(*r.recovery_ms);
    }
    char rec[96] = "";
    if (r.first_ms)
      std::snprintf(rec, sizeof(rec), ", next item %.1f ms, recovery %.1f ms",
                    *r.first_ms, *r.recovery_ms);
    BOOST_TEST_MESSAGE(
      "trial " << t << " (seed " << plan.seed << "): " << plan.describe()
               << " -> " << (r.ok ? "ok" : "FAILED") << ", " << r.workers_lost
               << " workers lost"
               << (r.gone ? " (the victim's link was cut before its fault)"
                          : "")
               << (r.error.empty() ? "" : ", " + r.error) << rec << ", " << took
               << " ms");
    BOOST_TEST(r.ok, "trial " << t << " (seed " << plan.seed
                              << "): " << plan.describe() << ": "
                              << (r.error.empty() ? "wrong output" : r.error)
                              << " (lost " << r.lost << ", duplicated "
                              << r.duplicated << ", reordered " << r.reordered
                              << ")");
    BOOST_TEST(r.fired, "trial " << t << ": the fault never fired");
  }
  std::string error_list;
  for (auto& [what, count] : errors)
    error_list += " " + std::to_string(count) + "x " + what;
  BOOST_TEST_MESSAGE("chaos summary: seed "
                     << args.seed << ", trials " << args.trials << ", ok " << ok
                     << " (" << no_worker_left << " of them workers_lost)"
                     << ", lost " << lost << ", duplicated " << duplicated
                     << ", reordered " << reordered << ", hung " << hung
                     << ", errors"
                     << (error_list.empty() ? std::string{" none"} : error_list)
                     << ", faults before the "
                        "victim ran: "
                     << unready);
  std::vector<double> all_first;
  std::vector<double> all_recovery;
  for (auto& [kind, xs] : first_ms) {
    auto& ys = recovery_ms[kind];
    BOOST_TEST_MESSAGE("chaos after " << kind << ": recovery " << figures(ys)
                                      << "; next item " << figures(xs));
    all_first.insert(all_first.end(), xs.begin(), xs.end());
    all_recovery.insert(all_recovery.end(), ys.begin(), ys.end());
  }
  BOOST_TEST_MESSAGE("chaos, every fault: recovery " << figures(all_recovery)
                                                     << "; next item "
                                                     << figures(all_first));
  BOOST_TEST(hung == 0);
  BOOST_TEST(lost == 0u);
  BOOST_TEST(duplicated == 0u);
  BOOST_TEST(reordered == 0u);
}
