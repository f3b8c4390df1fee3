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
//
//   bench_scaling --grow=2x2,4x2 [--phase-ms=3000] [--svg=FILE] [--csv]
//
// runs one pipeline that starts with the first config's workers and, every
// --phase-ms, lets the next config's extra workers join it while it runs
// (stage_control::add_workers: on the nodes it already uses, then on new
// ones). It samples the output every 100 ms and prints the rate of each
// phase (and with --csv the time series), checks order and count as
// above, and with --svg draws the rate over time with the joins marked.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
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
  std::string grow;
  size_t phase_ms = 3000;
  std::string svg;

  scaling_config() {
    opt_group{custom_options_, "global"}
      .add(node, "node", "run as a node process (internal)")
      .add(configs, "configs", "MxK,...: M nodes with K workers each")
      .add(items_per_worker, "items-per-worker,n", "items per run and worker")
      .add(runs, "runs,r", "runs per config")
      .add(wait_us, "wait-us", "how long each item waits on its node")
      .add(csv, "csv", "print config,median,min,max (items/s) lines")
      .add(grow, "grow", "MxK,...: one run whose workers join in phases")
      .add(phase_ms, "phase-ms", "how long each phase of --grow lasts")
      .add(svg, "svg", "with --grow: draw the rate over time to this file");
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

/// Starts `n` nodes (this program with --node); nothing (and none left
/// running) if one did not start.
std::optional<std::vector<bench::self_process>> start_nodes(
  size_t n, const scaling_config& cfg) {
  std::vector<bench::self_process> nodes;
  for (size_t i = 0; i < n; ++i) {
    auto p = bench::start_self(
      {"--node", "--wait-us=" + std::to_string(cfg.wait_us)});
    if (!p) {
      std::fprintf(stderr, "bench_scaling: a node did not start\n");
      for (auto& q : nodes)
        bench::stop_self(q);
      return std::nullopt;
    }
    nodes.push_back(*p);
  }
  return nodes;
}

// -- a run that grows -----------------------------------------------------------

/// The output count of a growing run, sampled every 100 ms, and when the
/// workers of each phase joined (seconds since the start).
struct growth_trace {
  std::vector<std::pair<double, int64_t>> samples;
  std::vector<std::pair<double, size_t>> joins; // (time, workers from then)
};

/// Draws the rate over time (items/s per 100 ms window) as an SVG.
void write_svg(const std::string& path, const growth_trace& trace,
               size_t wait_us) {
  std::vector<std::pair<double, double>> rate;
  for (size_t i = 1; i < trace.samples.size(); ++i) {
    auto& [t0, c0] = trace.samples[i - 1];
    auto& [t1, c1] = trace.samples[i];
    if (t1 > t0)
      rate.emplace_back(t1, static_cast<double>(c1 - c0) / (t1 - t0));
  }
  double t_max = rate.empty() ? 1.0 : rate.back().first;
  double r_max = 1.0;
  for (auto& [t, r] : rate)
    r_max = std::max(r_max, r);
  r_max *= 1.1;
  constexpr double w = 720, h = 360, left = 70, bottom = 40, top = 30,
                   right = 20;
  auto x = [&](double t) {
    return left + t / t_max * (w - left - right);
  };
  auto y = [&](double r) {
    return h - bottom - r / r_max * (h - bottom - top);
  };
  auto* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "bench_scaling: cannot write %s\n", path.c_str());
    return;
  }
  std::fprintf(f,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
               "height=\"%.0f\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n",
               w, h);
  std::fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  std::fprintf(f,
               "<text x=\"%.0f\" y=\"18\">remote_parallel_then: items/s "
               "per 100 ms while workers join (items wait %zu us)</text>\n",
               left, wait_us);
  // Axes with a few ticks.
  std::fprintf(f,
               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
               "stroke=\"black\"/>\n",
               left, y(0), x(t_max), y(0));
  std::fprintf(f,
               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
               "stroke=\"black\"/>\n",
               left, y(0), left, y(r_max));
  for (int i = 0; i <= 4; ++i) {
    auto r = r_max / 1.1 * i / 4;
    std::fprintf(f,
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f"
                 "</text>\n",
                 left - 6, y(r) + 4, r);
    auto t = t_max * i / 4;
    std::fprintf(f,
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                 "%.1f s</text>\n",
                 x(t), y(0) + 18, t);
  }
  for (auto& [t, workers] : trace.joins) {
    std::fprintf(f,
                 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                 "stroke=\"gray\" stroke-dasharray=\"4 3\"/>\n",
                 x(t), y(0), x(t), y(r_max));
    std::fprintf(f,
                 "<text x=\"%.1f\" y=\"%.1f\" fill=\"gray\">%zu "
                 "workers</text>\n",
                 x(t) + 4, top + 12, workers);
  }
  std::fprintf(f, "<polyline fill=\"none\" stroke=\"#1f77b4\" "
                  "stroke-width=\"2\" points=\"");
  for (auto& [t, r] : rate)
    std::fprintf(f, "%.1f,%.1f ", x(t), y(r));
  std::fprintf(f, "\"/>\n</svg>\n");
  std::fclose(f);
}

/// One run over the phases of `--grow`: the first phase's workers at
/// start, every later phase's extra workers joining after `phase_ms`.
/// False if a join or the run failed, or the output was wrong.
bool run_growing(caf::actor_system& sys,
                 const std::vector<config_entry>& phases,
                 const std::vector<bench::self_process>& nodes,
                 const scaling_config& cfg, growth_trace& trace) {
  auto address = [&](size_t i) {
    return "127.0.0.1:" + std::to_string(nodes[i].port);
  };
  // Enough items for every phase at about the ideal rate, the last one
  // running as long as the others.
  double per_worker = 1e6 / static_cast<double>(cfg.wait_us)
                      * static_cast<double>(cfg.phase_ms) / 1000.0;
  int64_t total = 0;
  for (auto& p : phases)
    total
      += static_cast<int64_t>(per_worker * static_cast<double>(p.workers()));
  auto n = static_cast<int32_t>(total);
  actorflow::stage_control grow;
  actorflow::remote_options opts;
  opts.connect_timeout = std::chrono::seconds{10};
  opts.spawn_timeout = std::chrono::seconds{10};
  opts.control = grow;
  opts.window = 64 * phases.back().workers();
  actorflow::placement where;
  for (size_t i = 0; i < phases.front().nodes; ++i)
    where.push_back({address(i), phases.front().workers_per_node});
  auto count = std::make_shared<std::atomic<int64_t>>(0);
  auto in_order = std::make_shared<std::atomic<bool>>(true);
  auto t0 = bench::clock_type::now();
  auto run = actorflow::iota(int32_t{0}, n)
               .compose(actorflow::remote_parallel_then<int32_t>(
                 std::move(where), "wait", opts))
               .for_each([count, in_order](int32_t x) {
                 if (x != count->load(std::memory_order_relaxed))
                   in_order->store(false);
                 count->fetch_add(1, std::memory_order_relaxed);
               })
               .start(sys);
  trace.joins.emplace_back(0.0, phases.front().workers());
  bool ok = true;
  size_t phase = 1;
  auto next_join = std::chrono::milliseconds{cfg.phase_ms};
  while (grow.running() || trace.samples.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    trace.samples.emplace_back(bench::seconds_since(t0), count->load());
    if (phase < phases.size() && bench::clock_type::now() - t0 >= next_join) {
      // The extra workers of this phase: more per node on the nodes in
      // use, then the new nodes.
      auto& before = phases[phase - 1];
      auto& now = phases[phase];
      for (size_t i = 0; i < now.nodes && ok; ++i) {
        auto have = i < before.nodes ? before.workers_per_node : 0;
        if (now.workers_per_node > have)
          if (auto err = grow.add_workers(address(i),
                                          now.workers_per_node - have)) {
            std::fprintf(stderr, "bench_scaling: join: %s\n",
                         actorflow::to_string_any(err).c_str());
            ok = false;
          }
      }
      trace.joins.emplace_back(bench::seconds_since(t0), now.workers());
      ++phase;
      next_join += std::chrono::milliseconds{cfg.phase_ms};
    }
  }
  auto res = run.wait();
  trace.samples.emplace_back(bench::seconds_since(t0), count->load());
  if (!res) {
    std::fprintf(stderr, "bench_scaling: %s\n",
                 actorflow::to_string_any(res.error()).c_str());
    return false;
  }
  if (!in_order->load() || count->load() != n) {
    std::fprintf(stderr,
                 "bench_scaling: %lld items out, want %d, in order: %s\n",
                 static_cast<long long>(count->load()), n,
                 in_order->load() ? "yes" : "no");
    return false;
  }
  return ok;
}

/// The rate of each phase of `trace` (items/s between its joins; the last
/// phase until the output ended).
std::vector<double> phase_rates(const growth_trace& trace) {
  std::vector<double> result;
  for (size_t p = 0; p < trace.joins.size(); ++p) {
    auto from = trace.joins[p].first;
    auto to = p + 1 < trace.joins.size() ? trace.joins[p + 1].first : 1e300;
    std::optional<std::pair<double, int64_t>> first;
    std::pair<double, int64_t> last{0, 0};
    for (auto& s : trace.samples)
      if (s.first >= from && s.first <= to) {
        if (!first)
          first = s;
        last = s;
      }
    if (first && last.first > first->first)
      result.push_back(static_cast<double>(last.second - first->second)
                       / (last.first - first->first));
    else
      result.push_back(0);
  }
  return result;
}

int run_grow_mode(caf::actor_system& sys, const scaling_config& cfg) {
  std::vector<config_entry> phases;
  if (!parse_configs(cfg.grow, phases) || phases.size() < 2
      || cfg.phase_ms < 500) {
    std::fprintf(stderr,
                 "bench_scaling: bad --grow '%s' (want MxK,MxK,... with at "
                 "least two phases that never shrink) or --phase-ms below "
                 "500\n",
                 cfg.grow.c_str());
    return EXIT_FAILURE;
  }
  for (size_t i = 1; i < phases.size(); ++i)
    if (phases[i].nodes < phases[i - 1].nodes
        || phases[i].workers_per_node < phases[i - 1].workers_per_node) {
      std::fprintf(stderr, "bench_scaling: --grow phases must not shrink\n");
      return EXIT_FAILURE;
    }
  auto nodes = start_nodes(phases.back().nodes, cfg);
  if (!nodes)
    return EXIT_FAILURE;
  auto kill_nodes = [&] {
    for (auto& p : *nodes)
      bench::stop_self(p);
  };
  growth_trace trace;
  auto ok = run_growing(sys, phases, *nodes, cfg, trace);
  kill_nodes();
  if (!ok)
    std::_Exit(EXIT_FAILURE);
  auto rates = phase_rates(trace);
  std::printf("bench_scaling --grow: items that wait %zu us, a phase every "
              "%zu ms\n",
              cfg.wait_us, cfg.phase_ms);
  std::printf("%-8s %8s %10s %12s %11s\n", "phase", "workers", "from (s)",
              "items/s", "efficiency");
  auto base = rates.front() / static_cast<double>(phases.front().workers());
  for (size_t i = 0; i < phases.size(); ++i)
    std::printf("%-8s %8zu %10.2f %12.0f %11.2f\n", phases[i].name.c_str(),
                phases[i].workers(), trace.joins[i].first, rates[i],
                rates[i] / (base * static_cast<double>(phases[i].workers())));
  if (cfg.csv)
    for (auto& [t, c] : trace.samples)
      std::printf("%.3f,%lld\n", t, static_cast<long long>(c));
  if (!cfg.svg.empty())
    write_svg(cfg.svg, trace, cfg.wait_us);
  std::fflush(stdout);
  std::_Exit(EXIT_SUCCESS);
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
  if (!cfg.grow.empty())
    return run_grow_mode(sys, cfg);
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
  auto nodes = start_nodes(max_nodes, cfg);
  if (!nodes)
    return EXIT_FAILURE;
  auto kill_nodes = [&] {
    for (auto& p : *nodes)
      bench::stop_self(p);
  };
  bool ok = true;
  for (size_t r = 0; r < cfg.runs && ok; ++r)
    for (auto& e : configs) {
      auto rate = run_config(sys, e, *nodes, cfg);
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
