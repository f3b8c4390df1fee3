// This file is part of actorflow. See README.md for the project's license.
//
// bench_suite: the benchmark suite in one run, written as Markdown and
// hand-rolled SVG bar charts (see README, "Benchmark suite"; the writer is
// suite/report.cpp).
//
//   W1  source 0..N-1 -> x+1 -> x*2 -> sum, N = 10^7: actorflow workers
//       (per-item recv/send, and recv_many/send_many) and DSL vs CAF 0.17
//       built-in streams, oneTBB parallel_pipeline, oneTBB flow graph,
//       std::thread + mutex/condvar queues, a sequential loop
//   W2  ordered parallel_then(2, f), 2*10^5 items, f ~10 us of hashing
//   W3  the same with ~1 us and 2*10^6 items
//   W4  parallel_then_unordered(2, f), 2*10^5 items of ~10 us, 1 in 100
//       items 100x slower; compared with total work / 2 cores
//   M1  RSS of a fresh process while 10^8 items flow from an unbounded source
//       (iota(0).take(N)) into a slow sink, sampled every 5 ms
//   S1  spawn 100,000 coroutine workers, all alive at once, then tear them
//       down: time and RSS per worker, vs 100,000 plain CAF event-based
//       actors doing the same (each in a fresh process)
//   D1  bench_remote: two processes on loopback (actorflow channel, CAF
//       vector<int32_t> messages, CAF 0.17 streams)
//
// Every workload verifies its result (sum or order-sensitive checksum) and
// the program exits 1 on the first mismatch.
//
// Usage: bench_suite [--quick] [--scale S] [--runs R] [--only LIST]
//                    [--out DIR] [--remote PATH] [--command TEXT]
//                    [CAF options, e.g. --scheduler.max-threads=2]
//   --quick        10x smaller sizes, at most 3 runs (a smoke run, ~15-30 s)
//   --scale S      multiplies every size (after --quick); e.g. 0.01
//   --runs R       timed runs of each variant (default 5 for W1, 3 else)
//   --only LIST    comma-separated subset of w1,w2,w3,w4,m1,s1,d1
//   --out DIR      writes DIR/README.md and DIR/*.svg (default: Markdown
//                  on stdout only)
//   --remote PATH  the bench_remote binary (default: next to this one)
//   --command TXT  the command line quoted at the top of the Markdown
//   --note TXT     a remark for the header (e.g. what else ran meanwhile)
// Internal: --child m1|s1-af|s1-caf --items N runs one measurement in this
// (fresh) process and prints one CSV line.

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>

#include <sys/wait.h>
#include <unistd.h>

#include "suite/report.hpp"
#include "w1_pipeline/w1.hpp"
#include "w2_parallel/w2.hpp"

namespace {

using namespace bench;

// -- options ------------------------------------------------------------------

struct options {
  bool quick = false;
  double scale = 1.0;
  int runs = 0; // 0: per workload default
  std::string only = "w1,w2,w3,w4,m1,s1,d1";
  std::string out_dir;
  std::string remote;
  std::string command = "bash tools/bench_suite.sh";
  std::string note;
  std::string child;
  int64_t items = 0;
  int64_t scheduler_threads = 0;
};

void usage(std::ostream& out) {
  out << "usage: bench_suite [--quick] [--scale S] [--runs R] [--only "
         "w1,w2,w3,w4,m1,s1,d1]\n"
         "                   [--out DIR] [--remote PATH] [--command TEXT] "
         "[--note TEXT]\n"
         "                   [--scheduler-threads T] [CAF options]\n"
         "Runs the suite's workloads (W1-W4, M1, S1, D1), verifies each "
         "result and\nwrites Markdown (+ SVG charts with --out).\n";
}

std::vector<std::string> parse_args(int argc, char** argv, options& opt,
                                    bool& help) {
  return parse_command_line(argc, argv, help, [&](option_arg& arg) {
    auto& name = arg.name;
    if (arg.is_flag("--quick"))
      opt.quick = true;
    else if (name == "--scale")
      opt.scale = to_double(name, arg.value());
    else if (name == "--runs")
      opt.runs = static_cast<int>(to_int_in(name, arg.value(), 1, 1000));
    else if (name == "--only")
      opt.only = arg.value();
    else if (name == "--out")
      opt.out_dir = arg.value();
    else if (name == "--remote")
      opt.remote = arg.value();
    else if (name == "--command")
      opt.command = arg.value();
    else if (name == "--note")
      opt.note = arg.value();
    else if (name == "--child")
      opt.child = arg.value();
    else if (name == "--items")
      opt.items = to_int_in(name, arg.value(), 1, 1'000'000'000'000);
    else if (name == "--scheduler-threads")
      opt.scheduler_threads = to_int_in(name, arg.value(), 1, 1024);
    else
      return false;
    return true;
  });
}

bool wanted(const options& opt, const std::string& id) {
  std::istringstream in{opt.only};
  for (std::string part; std::getline(in, part, ',');)
    if (part == id)
      return true;
  return false;
}

/// `full` items, shrunk by --quick (`quick_div`) and --scale, at least 1.
int64_t size_of(const options& opt, double full, double quick_div) {
  auto n = full * opt.scale / (opt.quick ? quick_div : 1.0);
  return std::max<int64_t>(1, std::llround(n));
}

int runs_of(const options& opt, int full) {
  if (opt.runs > 0)
    return opt.runs;
  return opt.quick ? std::min(full, 3) : full;
}

// -- results ------------------------------------------------------------------

/// Times `f` (returns wall seconds) and records items/s and CPU ns/item.
template <class F>
void measure(series& s, int64_t items, F f) {
  auto cpu0 = process_cpu_seconds();
  auto dt = f();
  auto cpu = process_cpu_seconds() - cpu0;
  auto n = static_cast<double>(items);
  s.values.push_back(n / dt);
  s.cpu_ns.push_back(cpu * 1e9 / n);
}

// -- W1 -----------------------------------------------------------------------

section run_w1(caf::actor_system& sys, const options& opt,
               std::map<std::string, std::string>& svgs) {
  auto n = static_cast<int>(size_of(opt, 1e7, 10));
  auto runs = runs_of(opt, 5);
  w1_options wo;
  struct v {
    const char* id;
    const char* label;
    bool ours;
    std::function<double(int)> run;
  };
  af_probe probe;
  std::vector<v> vs{
    {"a", "actorflow coroutine workers", true,
     [&](int k) {
       return run_af_workers(sys, wo, k, probe);
     }},
    {"j", "actorflow coroutine workers, recv_many/send_many", true,
     [&](int k) {
       return run_af_workers_many(sys, wo, k, probe);
     }},
    {"f", "actorflow stream DSL", true,
     [&](int k) {
       return run_af_dsl(sys, wo, k);
     }},
    {"h", "CAF 0.17 built-in streams", false,
     [&](int k) {
       return run_caf_streams(sys, k);
     }},
    {"g", "oneTBB parallel_pipeline", false,
     [&](int k) {
       return run_tbb(wo, k);
     }},
    {"i", "oneTBB flow graph", false,
     [&](int k) {
       return run_tbb_flow_graph(k);
     }},
    {"c", "std::thread + mutex/condvar queue, 1 item", false,
     [&](int k) {
       return run_threads_naive(wo, k);
     }},
    {"d", "std::thread + mutex/condvar queue, batches of 256", false,
     [&](int k) {
       return run_threads_batched(wo, k);
     }},
    {"e", "sequential loop", false,
     [&](int k) {
       return run_sequential(k);
     }},
  };
  std::vector<series> ss;
  for (auto& x : vs)
    ss.push_back({x.id, x.label, {}, {}, x.ours});
  for (auto& x : vs) // untimed warm-up
    x.run(std::max(1, n / 10));
  for (int r = 0; r < runs; ++r)
    for (size_t k = 0; k < vs.size(); ++k)
      measure(ss[k], n, [&] { return vs[k].run(n); });
  section sec{"w1", "W1: source -> x+1 -> x*2 -> sum", "", {}};
  std::ostringstream os;
  os << "N = " << n << " ints, " << runs
     << " timed runs per variant (interleaved, after one warm-up round of "
        "N/10); capacity 16384 for channels and queues (the DSL's automatic "
        "capacity for int), 16384 TBB tokens.\n\n"
     << rate_tables(ss) << "\n![W1](w1.svg)\n";
  sec.text = os.str();
  for (auto id : {"a", "j", "f"}) {
    auto vs_h = median_of(ss, id) / median_of(ss, "h");
    auto vs_g = median_of(ss, id) / median_of(ss, "g");
    sec.targets.push_back(
      {std::string{"W1 ("} + id + ") >= 1.5x CAF built-in streams",
       fmt_ratio(vs_h), vs_h >= 1.5});
    sec.targets.push_back(
      {std::string{"W1 ("} + id + ") >= 8x oneTBB parallel_pipeline",
       fmt_ratio(vs_g), vs_g >= 8.0});
  }
  svgs["w1.svg"]
    = bar_chart("W1: source -> x+1 -> x*2 -> sum, N = " + std::to_string(n),
                "items/s", bars_of(ss), true, fmt_rate);
  return sec;
}

// -- W2, W3, W4 -----------------------------------------------------------------

section run_parallel(caf::actor_system& sys, const options& opt,
                     double iters_per_us, const std::string& id, double us,
                     double full_items, uint32_t skew,
                     std::map<std::string, std::string>& svgs) {
  par_options po;
  tbb_arena arena{po.workers};
  workload w{us, static_cast<uint32_t>(std::max(1.0, iters_per_us * us)),
             size_of(opt, full_items, 10), skew};
  auto runs = runs_of(opt, 3);
  bool unordered = skew > 1;
  std::vector<std::pair<char, const char*>> vs{
    {'s', "sequential loop"},
    {'p', "2 independent sequential loops at once (the ceiling)"}};
  if (unordered) {
    vs.emplace_back('u', "actorflow parallel_then_unordered(2, f)");
    vs.emplace_back('o', "actorflow parallel_then(2, f), ordered");
  } else {
    vs.emplace_back('o', "actorflow parallel_then(2, f), ordered");
    vs.emplace_back('u', "actorflow parallel_then_unordered(2, f)");
  }
  vs.emplace_back('t', "oneTBB parallel_pipeline, parallel filter, ordered");
  std::vector<series> ss;
  for (auto& [c, label] : vs)
    ss.push_back({std::string(1, c), label, {}, {}, c == 'o' || c == 'u'});
  {
    auto small = w;
    small.items = std::max<int64_t>(1, w.items / 10);
    std::optional<checksum> ref;
    for (auto& [c, label] : vs)
      run_par_variant(c, sys, arena, po, small, ref);
  }
  std::optional<checksum> ref;
  std::vector<std::vector<double>> eff(vs.size()); // per-round efficiency
  for (int r = 0; r < runs; ++r) {
    for (size_t k = 0; k < vs.size(); ++k)
      measure(ss[k], w.items, [&] {
        return run_par_variant(vs[k].first, sys, arena, po, w, ref);
      });
    for (size_t k = 1; k < vs.size(); ++k)
      eff[k].push_back(ss[k].values.back() / (2.0 * ss[0].values.back()));
  }
  static const std::map<std::string, std::string> titles{
    {"w2", "W2: ordered parallel_then(2, f), f ~10 us"},
    {"w3", "W3: ordered parallel_then(2, f), f ~1 us"},
    {"w4", "W4: parallel_then_unordered(2, f), skewed work"}};
  section sec{id, titles.at(id), "", {}};
  std::ostringstream os;
  os << "N = " << w.items << " items, f = " << fmt(us, 1) << " us (" << w.iters
     << " hash iterations, measured " << fmt(measure_us(w.iters), 2)
     << " us CPU per call)";
  if (skew > 1)
    os << ", every 100th item " << skew << "x slower (total work = "
       << fmt(work_units(w) / static_cast<double>(w.items), 2)
       << " uniform items per item)";
  os << ", 2 workers, " << runs
     << " timed runs (interleaved, after a warm-up of N/10).\n\n"
     << rate_tables(ss)
     << "\nEfficiency = items/s / (2 x items/s of the sequential loop, which "
        "does the same total work); 1.0 = the 2-core limit.\n\n"
     << "CPU share of f = sequential CPU ns/item / the variant's CPU ns/item: "
        "the fraction of the CPU the variant burned that went into f. "
        "Efficiency <= CPU share; unlike efficiency it barely moves when other "
        "processes take one of the cores.\n\n"
     << "The ceiling runs the sequential loop on 2 threads at once, each "
        "over half the items, with no communication: its efficiency is what "
        "2 busy cores give over one on this machine (shared caches, SMT "
        "siblings, turbo and other tenants keep it below 1); the last column "
        "divides each variant's efficiency by the ceiling's.\n\n"
     << "| variant | efficiency (median of medians) | per-round "
        "[min, max] | CPU share of f | of the ceiling |\n"
        "|---|---:|---:|---:|---:|\n";
  auto seq = median_of(ss, "s");
  std::map<char, double> effs;
  for (size_t k = 1; k < vs.size(); ++k)
    effs[vs[k].first] = summarize(ss[k].values).median / (2 * seq);
  for (size_t k = 1; k < vs.size(); ++k) {
    auto e = summarize(eff[k]);
    os << "| " << ss[k].label << " | " << fmt(effs[vs[k].first], 3) << " | "
       << fmt(e.median, 3) << " [" << fmt(e.min, 3) << ", " << fmt(e.max, 3)
       << "] | "
       << fmt(summarize(ss[0].cpu_ns).median / summarize(ss[k].cpu_ns).median,
              3)
       << " | " << fmt(effs[vs[k].first] / effs['p'], 3) << " |\n";
  }
  os << "\n![" << id << "](" << id << ".svg)\n";
  sec.text = os.str();
  auto with_ceiling = [&effs](double e) {
    return fmt(e, 3) + " (" + fmt(e / effs['p'], 3) + " of the ceiling)";
  };
  if (id == "w2")
    sec.targets.push_back({"W2 ordered >= 0.97 of the 2x limit",
                           with_ceiling(effs['o']), effs['o'] >= 0.97});
  else if (id == "w3")
    sec.targets.push_back({"W3 ordered >= 0.93 of the 2x limit",
                           with_ceiling(effs['o']), effs['o'] >= 0.93});
  else
    sec.targets.push_back(
      {"W4 unordered within 10% of total work / 2 cores (>= 0.90)",
       with_ceiling(effs['u']), effs['u'] >= 0.90});
  auto bars = bars_of(ss);
  // The ideal: total work on 2 cores.
  bars.insert(bars.begin() + 1, bar{"2-core limit (2 x sequential)", 2 * seq,
                                    2 * summarize(ss[0].values).min,
                                    2 * summarize(ss[0].values).max, false});
  svgs[id + ".svg"] = bar_chart(
    id == "w4"
      ? "W4: parallel_then_unordered, skewed work (1 in 100 x100)"
      : "W" + id.substr(1) + ": parallel_then(2, f), f ~" + fmt(us, 0) + " us",
    "items/s", bars, false, fmt_rate);
  return sec;
}

// -- children: M1, S1 ----------------------------------------------------------

/// Where the slow sink of M1 stores its hash (so that it is computed).
volatile uint64_t m1_sink = 0;

/// M1 in this process: iota(0).take(n) -> fold with ~20 hash iterations per
/// item (the slow sink); prints "m1,n,seconds,base_kib,peak_kib,hwm_kib,
/// first_quarter_max_kib,last_quarter_max_kib,samples".
int child_m1(caf::actor_system& sys, int64_t n) {
  auto base = status_kib("VmRSS");
  std::atomic<bool> stop{false};
  std::vector<int64_t> samples;
  std::thread sampler{[&] {
    while (!stop.load()) {
      samples.push_back(status_kib("VmRSS"));
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
  }};
  auto t0 = clock_type::now();
  auto sum = actorflow::iota<int64_t>(0)
               .take(static_cast<size_t>(n))
               .fold(uint64_t{0},
                     [](uint64_t& acc, int64_t x) {
                       // The slow part: ~20 dependent multiply rounds.
                       m1_sink = hash_work(static_cast<uint64_t>(x), 20);
                       return acc + static_cast<uint64_t>(x);
                     })
               .run(sys);
  auto dt = seconds_since(t0);
  stop = true;
  sampler.join();
  if (!sum)
    die("M1: pipeline failed: " + actorflow::to_string_any(sum.error()));
  auto want = static_cast<uint64_t>(n) * static_cast<uint64_t>(n - 1) / 2;
  if (*sum != want)
    die("M1: wrong sum: got " + std::to_string(*sum) + ", expected "
        + std::to_string(want));
  if (samples.empty())
    samples.push_back(status_kib("VmRSS"));
  auto q = std::max<size_t>(1, samples.size() / 4);
  auto first = *std::max_element(samples.begin(),
                                 samples.begin() + static_cast<long>(q));
  auto last = *std::max_element(samples.end() - static_cast<long>(q),
                                samples.end());
  auto peak = *std::max_element(samples.begin(), samples.end());
  std::printf("m1,%lld,%.6f,%lld,%lld,%lld,%lld,%lld,%zu\n",
              static_cast<long long>(n), dt, static_cast<long long>(base),
              static_cast<long long>(peak),
              static_cast<long long>(status_kib("VmHWM")),
              static_cast<long long>(first), static_cast<long long>(last),
              samples.size());
  return 0;
}

using s1_get = caf::get_atom;
using s1_go = caf::ok_atom;

/// Collects one request per spawned actor; answers all of them (with
/// distinct tokens 0..n-1) on s1_go.
struct gate_state {
  std::vector<caf::response_promise> pending;
  std::atomic<int64_t>* arrived = nullptr;
};

caf::behavior gate(caf::stateful_actor<gate_state>* self,
                   std::atomic<int64_t>* arrived) {
  self->state.arrived = arrived;
  return {
    [self](s1_get) {
      auto rp = self->make_response_promise();
      self->state.pending.push_back(rp);
      self->state.arrived->fetch_add(1);
      return rp;
    },
    [self](s1_go) {
      int64_t token = 0;
      for (auto& rp : self->state.pending)
        rp.deliver(token++);
      self->state.pending.clear();
      self->state.pending.shrink_to_fit();
    },
  };
}

actorflow::task<> s1_worker(caf::actor g, std::atomic<int64_t>* sum) {
  auto token = co_await actorflow::ask<int64_t>(g, caf::infinite,
                                                s1_get::value);
  if (!token)
    throw std::runtime_error("S1: the gate failed");
  sum->fetch_add(*token);
}

void wait_for(const std::atomic<int64_t>& x, int64_t n, const char* what) {
  auto t0 = clock_type::now();
  while (x.load() < n) {
    if (seconds_since(t0) > 120)
      die(std::string{"S1: timeout waiting for "} + what);
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  }
}

/// S1 in this process: spawns n actorflow workers (`af`) or n CAF
/// event-based actors that each wait for a token from the gate, measures RSS
/// with all alive, releases them and waits until all ended. Prints
/// "s1,variant,n,spawn_s,total_s,base_kib,alive_kib".
int child_s1(caf::actor_system& sys, int64_t n, bool af) {
  std::atomic<int64_t> arrived{0}, sum{0}, finished{0};
  auto g = sys.spawn(gate, &arrived);
  std::vector<actorflow::worker> workers;
  std::vector<caf::actor> actors;
  if (af)
    workers.reserve(static_cast<size_t>(n));
  else
    actors.reserve(static_cast<size_t>(n));
  std::this_thread::sleep_for(std::chrono::milliseconds{50});
  auto base = status_kib("VmRSS");
  auto t0 = clock_type::now();
  for (int64_t i = 0; i < n; ++i) {
    if (af) {
      workers.push_back(actorflow::spawn_worker(sys, s1_worker, g, &sum));
    } else {
      actors.push_back(
        sys.spawn([g, &sum, &finished](caf::event_based_actor* self) {
          self->request(g, caf::infinite, s1_get::value)
            .then([self, &sum, &finished](int64_t token) {
              sum.fetch_add(token);
              finished.fetch_add(1);
              self->quit();
            });
        }));
    }
  }
  wait_for(arrived, n, "the spawned actors");
  auto spawn_s = seconds_since(t0);
  auto alive = status_kib("VmRSS");
  caf::anon_send(g, s1_go::value);
  if (af) {
    for (auto& w : workers)
      if (auto err = w.join())
        die("S1: a worker failed: " + actorflow::to_string_any(err));
    workers.clear();
  } else {
    wait_for(finished, n, "the actors to end");
    actors.clear();
  }
  auto total_s = seconds_since(t0);
  caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
  if (sum.load() != n * (n - 1) / 2)
    die("S1: wrong token sum " + std::to_string(sum.load()) + ", expected "
        + std::to_string(n * (n - 1) / 2));
  std::printf("s1,%s,%lld,%.6f,%.6f,%lld,%lld\n", af ? "af" : "caf",
              static_cast<long long>(n), spawn_s, total_s,
              static_cast<long long>(base), static_cast<long long>(alive));
  return 0;
}

/// Runs `cmd`, returns its stdout; dies if it fails.
std::string run_command(const std::string& cmd) {
  std::string out;
  auto* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr)
    die("cannot run: " + cmd);
  char buf[4096];
  while (auto k = std::fread(buf, 1, sizeof(buf), p))
    out.append(buf, k);
  auto status = ::pclose(p);
  if (status != 0)
    die("failed (status " + std::to_string(status) + "): " + cmd + "\noutput:\n"
        + out);
  return out;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> parts;
  std::istringstream in{line};
  for (std::string part; std::getline(in, part, sep);)
    parts.push_back(part);
  return parts;
}

/// The CSV fields of the first line of `out` starting with `prefix`.
std::vector<std::string> csv_line(const std::string& out,
                                  const std::string& prefix) {
  std::istringstream in{out};
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0)
      return split(line, ',');
  die("no line '" + prefix + "...' in:\n" + out);
}

std::string self_exe() {
  return std::filesystem::read_symlink("/proc/self/exe").string();
}

std::string child_cmd(const std::string& what, int64_t n,
                      const std::vector<std::string>& caf_args) {
  std::string cmd = "'" + self_exe() + "' --child " + what + " --items "
                    + std::to_string(n);
  for (auto& a : caf_args)
    cmd += " '" + a + "'";
  return cmd;
}

section run_m1(const options& opt, const std::vector<std::string>& caf_args,
               std::map<std::string, std::string>& svgs) {
  auto n = size_of(opt, 1e8, 10);
  auto f = csv_line(run_command(child_cmd("m1", n, caf_args)), "m1,");
  auto dt = std::stod(f[2]);
  auto base = std::stoll(f[3]), peak = std::stoll(f[4]), hwm = std::stoll(f[5]),
       first = std::stoll(f[6]), last = std::stoll(f[7]);
  section sec{"m1", "M1: RSS, unbounded source into a slow sink", "", {}};
  std::ostringstream os;
  os << "iota<int64_t>(0).take(N).fold(...) with ~20 hash rounds per item in "
        "the sink, in a fresh process; VmRSS sampled every 5 ms ("
     << f[8] << " samples). N = " << n << " items in " << fmt(dt, 2) << " s ("
     << fmt_rate(static_cast<double>(n) / dt) << " items/s).\n\n"
     << "| RSS before the run | peak VmRSS | VmHWM | peak, first quarter "
        "| peak, last quarter | growth (last - first quarter) |\n"
        "|---:|---:|---:|---:|---:|---:|\n"
     << "| " << fmt(static_cast<double>(base) / 1024, 1) << " MiB | "
     << fmt(static_cast<double>(peak) / 1024, 1) << " MiB | "
     << fmt(static_cast<double>(hwm) / 1024, 1) << " MiB | "
     << fmt(static_cast<double>(first) / 1024, 1) << " MiB | "
     << fmt(static_cast<double>(last) / 1024, 1) << " MiB | " << (last - first)
     << " KiB |\n\n![M1](m1.svg)\n";
  sec.text = os.str();
  auto flat = last - first <= 1024;
  sec.targets.push_back({"M1 flat RSS (growth <= 1 MiB) under 32 MiB (VmHWM)",
                         fmt(static_cast<double>(hwm) / 1024, 1)
                           + " MiB, growth " + std::to_string(last - first)
                           + " KiB",
                         hwm < 32 * 1024 && flat});
  auto mib = [](double k) {
    return fmt(k / 1024, 1) + " MiB";
  };
  std::vector<bar> bars{
    {"before the run", static_cast<double>(base), static_cast<double>(base),
     static_cast<double>(base), false},
    {"peak, first quarter", static_cast<double>(first),
     static_cast<double>(first), static_cast<double>(first), true},
    {"peak, last quarter", static_cast<double>(last), static_cast<double>(last),
     static_cast<double>(last), true},
    {"VmHWM (whole process)", static_cast<double>(hwm),
     static_cast<double>(hwm), static_cast<double>(hwm), true},
    {"target: 32 MiB", 32 * 1024., 32 * 1024., 32 * 1024., false}};
  svgs["m1.svg"] = bar_chart("M1: RSS over " + std::to_string(n)
                               + " items, unbounded source -> slow sink",
                             "RSS", bars, false, mib);
  return sec;
}

section run_s1(const options& opt, const std::vector<std::string>& caf_args,
               std::map<std::string, std::string>& svgs) {
  auto n = size_of(opt, 1e5, 10);
  auto runs = runs_of(opt, 3);
  series time_af{"af", "actorflow coroutine workers", {}, {}, true};
  series time_caf{"caf", "CAF event-based actors", {}, {}, false};
  std::vector<double> bytes_af, bytes_caf;
  for (int r = 0; r < runs; ++r) {
    for (bool af : {true, false}) {
      auto f = csv_line(
        run_command(child_cmd(af ? "s1-af" : "s1-caf", n, caf_args)), "s1,");
      auto total = std::stod(f[4]);
      auto bytes = static_cast<double>(std::stoll(f[6]) - std::stoll(f[5]))
                   * 1024 / static_cast<double>(n);
      (af ? time_af : time_caf)
        .values.push_back(total * 1e9 / static_cast<double>(n));
      (af ? bytes_af : bytes_caf).push_back(bytes);
    }
  }
  auto ta = summarize(time_af.values), tc = summarize(time_caf.values);
  auto ba = summarize(bytes_af), bc = summarize(bytes_caf);
  section sec{"s1", "S1: spawn and tear down coroutine workers", "", {}};
  std::ostringstream os;
  os << n
     << " actors alive at once, each waiting for a token from a gate actor "
        "(actorflow: `co_await ask<int64_t>(gate, ...)` in a worker; CAF: "
        "`request(gate, ...).then(...)` in a plain event-based actor), then "
        "released and ended. Each run in a fresh process; "
     << runs
     << " runs. Memory = (VmRSS with all alive - VmRSS before spawning) / N "
        "(includes the gate's response promise and the handle the spawner "
        "keeps).\n\n"
     << "| variant | ns per actor, spawn to end (median) | min | max | "
        "bytes per actor (median) | min | max |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
     << "| **" << time_af.label << "** | " << fmt(ta.median, 0) << " | "
     << fmt(ta.min, 0) << " | " << fmt(ta.max, 0) << " | " << fmt(ba.median, 0)
     << " | " << fmt(ba.min, 0) << " | " << fmt(ba.max, 0) << " |\n"
     << "| " << time_caf.label << " | " << fmt(tc.median, 0) << " | "
     << fmt(tc.min, 0) << " | " << fmt(tc.max, 0) << " | " << fmt(bc.median, 0)
     << " | " << fmt(bc.min, 0) << " | " << fmt(bc.max, 0) << " |\n\n"
     << "actorflow on top of CAF: " << fmt(ba.median - bc.median, 0)
     << " bytes and " << fmt(ta.median - tc.median, 0)
     << " ns per worker (ratio of times " << fmt_ratio(ta.median / tc.median)
     << ").\n\n![S1](s1.svg)\n";
  sec.text = os.str();
  sec.targets.push_back({"S1 < 1 KiB per worker on top of CAF's per-actor "
                         "cost",
                         fmt(ba.median - bc.median, 0) + " B",
                         ba.median - bc.median < 1024});
  std::vector<bar> bars{
    {"actorflow worker: bytes", ba.median, ba.min, ba.max, true},
    {"CAF actor: bytes", bc.median, bc.min, bc.max, false},
    {"actorflow worker: ns", ta.median, ta.min, ta.max, true},
    {"CAF actor: ns", tc.median, tc.min, tc.max, false}};
  svgs["s1.svg"] = bar_chart(
    "S1: per actor, " + std::to_string(n) + " alive at once (spawn to end)",
    "bytes / ns per actor", bars, false, [](double x) { return fmt(x, 0); });
  return sec;
}

section run_d1(const options& opt, std::map<std::string, std::string>& svgs) {
  auto n = size_of(opt, 2e7, 10);
  auto runs = runs_of(opt, 3);
  auto exe
    = opt.remote.empty()
        ? (std::filesystem::path{self_exe()}.parent_path() / "bench_remote")
            .string()
        : opt.remote;
  auto out = run_command("'" + exe + "' --items=" + std::to_string(n)
                         + " --runs=" + std::to_string(runs) + " --csv");
  std::vector<series> ss;
  for (auto [id, label, ours] :
       {std::tuple{"actorflow", "actorflow remote channel", true},
        std::tuple{"caf-vector", "CAF vector<int32_t>[256] messages", false},
        std::tuple{"caf-stream", "CAF 0.17 built-in stream", false}}) {
    auto f = csv_line(out, std::string{id} + ",");
    series s{id, label, {}, {}, ours};
    // bench_remote reports median, min and max; keep them as three values
    // so that summarize() gives back the same figures.
    s.values = {std::stod(f[1]), std::stod(f[2]), std::stod(f[3])};
    ss.push_back(std::move(s));
  }
  section sec{"d1", "D1: two processes on loopback (bench_remote)", "", {}};
  std::ostringstream os;
  os << "N = " << n << " int32 items per run, " << runs
     << " runs per variant (interleaved), sender here, receiver in a second "
        "process (actorflow: bench_remote's default channel, capacity "
        "262144, batch 16384); count and sum verified by bench_remote. "
        "Median, min and max as reported by bench_remote (CPU time not "
        "measured).\n\n"
     << rate_tables(ss) << "\n![D1](d1.svg)\n";
  sec.text = os.str();
  svgs["d1.svg"] = bar_chart("D1: int32 items between two processes", "items/s",
                             bars_of(ss), false, fmt_rate);
  return sec;
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  caf::actor_system_config cfg;
  std::vector<std::string> caf_args;
  if (auto rc = start("bench_suite", argc, argv, opt, parse_args, usage, cfg,
                      caf_args))
    return *rc;
  if (opt.scale <= 0 || opt.scale > 100)
    die("--scale must be in (0, 100]");
  if (opt.scheduler_threads > 0)
    caf_args.push_back("--scheduler.max-threads="
                       + std::to_string(opt.scheduler_threads));
  if (!opt.child.empty()) {
    caf::actor_system sys{cfg};
    if (opt.child == "m1")
      return child_m1(sys, opt.items);
    if (opt.child == "s1-af" || opt.child == "s1-caf")
      return child_s1(sys, opt.items, opt.child == "s1-af");
    die("unknown --child " + opt.child);
  }
  auto t_start = clock_type::now();
  auto load_start = loadavg();
  std::vector<section> secs;
  std::map<std::string, std::string> svgs;
  std::vector<std::pair<std::string, std::string>> loads;
  auto progress = [&](const std::string& what) {
    loads.emplace_back(what, loadavg());
    std::cerr << "bench_suite: " << what << " ("
              << fmt(seconds_since(t_start), 0) << " s, load " << loadavg()
              << ")\n";
  };
  // Processes of their own first (D1, M1, S1), while no scheduler of ours
  // competes for the cores.
  if (wanted(opt, "d1")) {
    progress("D1");
    secs.push_back(run_d1(opt, svgs));
  }
  if (wanted(opt, "m1")) {
    progress("M1");
    secs.push_back(run_m1(opt, caf_args, svgs));
  }
  if (wanted(opt, "s1")) {
    progress("S1");
    secs.push_back(run_s1(opt, caf_args, svgs));
  }
  std::string sched;
  {
    caf::actor_system sys{cfg};
    sched = describe_scheduler(sys);
    if (wanted(opt, "w1")) {
      progress("W1");
      secs.push_back(run_w1(sys, opt, svgs));
    }
    double per_us = 0;
    if (wanted(opt, "w2") || wanted(opt, "w3") || wanted(opt, "w4"))
      per_us = calibrate();
    if (wanted(opt, "w2")) {
      progress("W2");
      secs.push_back(run_parallel(sys, opt, per_us, "w2", 10.0, 2e5, 1, svgs));
    }
    if (wanted(opt, "w3")) {
      progress("W3");
      secs.push_back(run_parallel(sys, opt, per_us, "w3", 1.0, 2e6, 1, svgs));
    }
    if (wanted(opt, "w4")) {
      progress("W4");
      secs.push_back(
        run_parallel(sys, opt, per_us, "w4", 10.0, 1e5, 100, svgs));
    }
  }
  // Sections in workload order.
  const std::vector<std::string> order{"w1", "w2", "w3", "w4",
                                       "m1", "s1", "d1"};
  std::sort(secs.begin(), secs.end(), [&](auto& x, auto& y) {
    return std::find(order.begin(), order.end(), x.id)
           < std::find(order.begin(), order.end(), y.id);
  });
  run_info info{.command = opt.command,
                .quick = opt.quick,
                .scale = opt.scale,
                .seconds = seconds_since(t_start),
                .scheduler = sched,
                .load_start = load_start,
                .loads = loads,
                .note = opt.note};
  auto md = markdown(info, secs);
  std::cout << md;
  if (!opt.out_dir.empty()) {
    write_report(opt.out_dir, md, svgs);
    std::cerr << "bench_suite: wrote " << opt.out_dir << "/README.md and "
              << svgs.size() << " SVG charts\n";
  }
  std::cerr << "bench_suite: every workload verified its result; targets "
            << (all_met(secs) ? "all met" : "NOT all met") << '\n';
  return 0;
}
