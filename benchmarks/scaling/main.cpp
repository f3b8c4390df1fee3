// bench_scaling: items/s of remote_parallel_then against the number of
// remote workers, for items that each wait about 1 ms on their node (a
// coroutine stage that asks a timer actor of the node, so the cores are no
// limit and the ideal is linear):
//
//   bench_scaling [--configs=2x1,2x2,4x2] [--items-per-worker=N]
//                 [--runs=R] [--wait-us=1000] [--csv]
//
// A config "MxK" is M node processes with K workers each. The program
// starts the nodes (itself with --node) on free ports of 127.0.0.1, runs
// every config R times, interleaved, checks that each run gives every item
// once and in order (exit code 1 otherwise), and prints per config the
// median items/s with min and max, and its scaling efficiency: its rate
// divided by the first config's rate times the ratio of their workers
// (1.0 is linear). It kills the nodes at the end.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sys/prctl.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actorflow/ask.hpp"
#include "common.hpp"

namespace {

using tick_atom = caf::atom_constant<caf::atom("b_tick")>;

struct scaling_config : caf::actor_system_config {
  bool node = false;
  std::string configs = "2x1,2x2,4x2";
  int64_t items_per_worker = 1000;
  size_t runs = 3;
  size_t wait_us = 1000;
  bool csv = false;

  scaling_config() {
    opt_group{custom_options_, "global"}
      .add(node, "node", "run as a node process (internal)")
      .add(configs, "configs", "MxK,...: M nodes with K workers each")
      .add(items_per_worker, "items-per-worker,n", "items per run and worker")
      .add(runs, "runs,r", "runs per config")
      .add(wait_us, "wait-us", "how long each item waits on its node")
      .add(csv, "csv", "print config,median,min,max (items/s) lines");
  }
};

// -- node -----------------------------------------------------------------------

struct timer_state {
  /// Requests in arrival order; each is answered `wait` after it came (the
  /// delay is the same for all, so the oldest is always due first).
  std::deque<std::pair<int32_t, caf::typed_response_promise<int32_t>>> due;
};

/// Answers each request (an item) after `wait`, without a thread per wait.
caf::behavior timer(caf::stateful_actor<timer_state>* self,
                    caf::timespan wait) {
  return {
    [self, wait](int32_t x) {
      auto rp = self->make_response_promise<int32_t>();
      self->state.due.emplace_back(x, rp);
      self->delayed_send(self, wait, tick_atom::value);
      return rp;
    },
    [self](tick_atom) {
      auto& due = self->state.due;
      if (due.empty())
        return;
      due.front().second.deliver(due.front().first);
      due.pop_front();
    },
  };
}

void register_stages(actorflow::stage_registry& reg, caf::timespan wait) {
  reg.add_item_type<int32_t>("int32");
  auto clock = std::make_shared<caf::actor>();
  reg.on_start(
    [clock, wait](caf::actor_system& sys) { *clock = sys.spawn(timer, wait); });
  reg.on_stop(
    [clock] { caf::anon_send_exit(*clock, caf::exit_reason::user_shutdown); });
  reg.register_stage<int32_t, int32_t>(
    "wait", [clock](int32_t x) -> actorflow::task<int32_t> {
      auto asking = actorflow::ask<int32_t>(*clock, std::chrono::seconds{30},
                                            x);
      auto y = co_await asking;
      if (!y)
        throw actorflow::error_exception{y.error()};
      co_return *y;
    });
}

int run_node(caf::actor_system& sys,
             std::shared_ptr<actorflow::stage_registry> reg) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto port = actorflow::serve_node(sys, reg);
  if (!port) {
    std::fprintf(stderr, "node: %s\n",
                 actorflow::to_string_any(port.error()).c_str());
    std::_Exit(1);
  }
  std::printf("PORT %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  for (;;)
    ::pause();
}

// -- driver ---------------------------------------------------------------------

struct config_entry {
  std::string name;
  size_t nodes = 0;
  size_t workers_per_node = 0;
  std::vector<double> rates;

  size_t workers() const {
    return nodes * workers_per_node;
  }
};

bool parse_configs(const std::string& text, std::vector<config_entry>& out) {
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ',')) {
    auto x = item.find('x');
    if (x == std::string::npos)
      return false;
    config_entry e;
    e.name = item;
    e.nodes = static_cast<size_t>(std::strtoul(item.c_str(), nullptr, 10));
    e.workers_per_node
      = static_cast<size_t>(std::strtoul(item.c_str() + x + 1, nullptr, 10));
    if (e.nodes == 0 || e.workers_per_node == 0)
      return false;
    out.push_back(std::move(e));
  }
  return !out.empty();
}

/// One run of `e`: items/s, or a negative value if the output was wrong.
double run_config(caf::actor_system& sys, const config_entry& e,
                  const std::vector<bench::self_process>& nodes,
                  const scaling_config& cfg) {
  actorflow::placement where;
  for (size_t i = 0; i < e.nodes; ++i)
    where.push_back(
      {"127.0.0.1:" + std::to_string(nodes[i].port), e.workers_per_node});
  auto n = static_cast<int32_t>(cfg.items_per_worker
                                * static_cast<int64_t>(e.workers()));
  auto next = std::make_shared<int32_t>(0);
  auto in_order = std::make_shared<bool>(true);
  actorflow::remote_options opts;
  opts.connect_timeout = std::chrono::seconds{10};
  opts.spawn_timeout = std::chrono::seconds{10};
  auto t0 = bench::clock_type::now();
  auto res = actorflow::iota(int32_t{0}, n)
               .compose(actorflow::remote_parallel_then<int32_t>(
                 std::move(where), "wait", opts))
               .for_each([next, in_order](int32_t x) {
                 if (x != (*next)++)
                   *in_order = false;
               })
               .run(sys);
  auto secs = bench::seconds_since(t0);
  if (!res) {
    std::fprintf(stderr, "bench_scaling: %s: %s\n", e.name.c_str(),
                 actorflow::to_string_any(res.error()).c_str());
    return -1;
  }
  if (!*in_order || *next != n) {
    std::fprintf(stderr,
                 "bench_scaling: %s: %d items out, want %d, in order: %s\n",
                 e.name.c_str(), *next, n, *in_order ? "yes" : "no");
    return -1;
  }
  return static_cast<double>(n) / secs;
}

} // namespace

int main(int argc, char** argv) {
  scaling_config cfg;
  actorflow::init(cfg);
  actorflow::init_distribution(cfg);
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "bench_scaling: %s\n", cfg.render(err).c_str());
    return EXIT_FAILURE;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  auto reg = std::make_shared<actorflow::stage_registry>();
  register_stages(*reg, std::chrono::microseconds{cfg.wait_us});
  reg->apply(cfg);
  caf::actor_system sys{cfg};
  if (cfg.node)
    return run_node(sys, reg);
  std::vector<config_entry> configs;
  if (!parse_configs(cfg.configs, configs) || cfg.runs == 0
      || cfg.items_per_worker <= 0) {
    std::fprintf(stderr,
                 "bench_scaling: bad --configs '%s' (want MxK,... "
                 "with M, K >= 1), --runs or --items-per-worker\n",
                 cfg.configs.c_str());
    return EXIT_FAILURE;
  }
  size_t max_nodes = 0;
  for (auto& e : configs)
    max_nodes = std::max(max_nodes, e.nodes);
  std::vector<bench::self_process> nodes;
  auto kill_nodes = [&] {
    for (auto& p : nodes)
      bench::stop_self(p);
  };
  for (size_t i = 0; i < max_nodes; ++i) {
    auto p = bench::start_self(
      {"--node", "--wait-us=" + std::to_string(cfg.wait_us)});
    if (!p) {
      std::fprintf(stderr, "bench_scaling: a node did not start\n");
      kill_nodes();
      return EXIT_FAILURE;
    }
    nodes.push_back(*p);
  }
  bool ok = true;
  for (size_t r = 0; r < cfg.runs && ok; ++r)
    for (auto& e : configs) {
      auto rate = run_config(sys, e, nodes, cfg);
      if (rate < 0) {
        ok = false;
        break;
      }
      e.rates.push_back(rate);
    }
  kill_nodes();
  if (!ok)
    std::_Exit(EXIT_FAILURE);
  auto base = bench::summarize(configs.front().rates).median
              / static_cast<double>(configs.front().workers());
  if (cfg.csv) {
    for (auto& e : configs) {
      auto st = bench::summarize(e.rates);
      std::printf("%s,%.0f,%.0f,%.0f\n", e.name.c_str(), st.median, st.min,
                  st.max);
    }
  } else {
    std::printf("bench_scaling: items that wait %zu us on their node, %lld "
                "per worker and run, %zu runs (medians)\n",
                cfg.wait_us, static_cast<long long>(cfg.items_per_worker),
                cfg.runs);
    std::printf("%-8s %8s %12s %12s %12s %11s\n", "config", "workers",
                "items/s", "min", "max", "efficiency");
    for (auto& e : configs) {
      auto st = bench::summarize(e.rates);
      std::printf("%-8s %8zu %12.0f %12.0f %12.0f %11.2f\n", e.name.c_str(),
                  e.workers(), st.median, st.min, st.max,
                  st.median / (base * static_cast<double>(e.workers())));
    }
  }
  std::fflush(stdout);
  std::_Exit(EXIT_SUCCESS);
}
