// This file is part of actorflow. See README.md for the project's license.
//
// bench_latency: workload L1, the end-to-end latency of single items
// through a 3-stage pipeline
//
//   paced source thread -> f (seq + 1) -> g (x 2) on 2 workers -> sink
//
// at 1%, 10%, 50% and 90% (--loads) of the maximum throughput of (a),
// measured first in the same run with an unpaced source. Each item's
// latency counts from its intended send time (its slot on the source's
// schedule) to the sink, so a source held back by backpressure adds the
// wait (corrected for coordinated omission). Peers, in the same run:
//
//   a  actorflow stream DSL: from(channel).then(f).parallel_then(2, g)
//      .for_each(h), default settings; the source thread blocking_sends
//   b  plain CAF actors, one message per item: stage actor (f) dealing to
//      2 worker actors (g), a gather actor restoring the order, a sink actor
//   c  oneTBB flow graph: serial node (f), node of concurrency 2 (g),
//      sequencer_node, serial sink node
//   d  std::threads over bounded mutex/condvar queues, one item per
//      push/pop: f, 2 x g, one thread restoring the order and sinking
//   e  (a) with run_options::linger (--linger-us, default 50): partial
//      batches wait that long for more items
//
// Every run checks that every item came once, in order, computed right;
// a wrong run makes the program exit 1. Each load runs every peer R times,
// interleaved (a b c d a b c d ...); the table gives the median over the
// runs of p50, p99, p99.9 and max, in microseconds, and the ratio of (a)'s
// p50 and p99 to each peer's (< 1: actorflow is faster).
//
// Usage: bench_latency [options] [-- CAF options]
//   --loads LIST           percent of (a)'s maximum (default 1,10,50,90)
//   --duration-ms D        fed time per run (default 1000)
//   --max-items N          most items per run (default 2000000)
//   --runs R               runs per peer and load (default 3)
//   --variants LIST        subset of "abcde" (default all)
//   --linger-us L          the linger of (e) in microseconds (default 50)
//   --capacity C           actorflow channels and thread queues (default:
//                          the DSL's choice for the item, 2730)
//   --svg PATH             also write p50/p99 against load as an SVG chart
//   --stages               print the per-stage table of each run of (a)
//                          and (e), with each stage's latency p50 and p99
//   --scheduler-threads T  shorthand for --scheduler.max-threads=T
//   --help                 this text

#include <map>
#include <sstream>

#include "l1_latency/l1.hpp"

namespace {

using namespace bench;

struct options : l1_options {
  std::vector<double> loads{1, 10, 50, 90};
  int64_t duration_ms = 1000;
  int64_t max_items = 2'000'000;
  int runs = 3;
  std::string variants = "abcde";
  std::string svg;
  int64_t scheduler_threads = 0;
};

void usage(std::ostream& out) {
  out << "usage: bench_latency [--loads 1,10,50,90] [--duration-ms D]\n"
         "         [--max-items N] [--runs R] [--variants abcde]\n"
         "         [--linger-us L]\n"
         "         [--capacity C] [--svg PATH] [--scheduler-threads T]\n"
         "         [--stages]\n"
         "L1: paced source -> f -> g on 2 workers -> sink; latency per item\n"
         "from its intended send time, at percentages of (a)'s maximum\n"
         "  a  actorflow stream DSL, default settings\n"
         "  b  plain CAF actors, one message per item\n"
         "  c  oneTBB flow graph\n"
         "  d  std::threads over mutex/condvar queues\n"
         "  e  (a) with run_options::linger = L us (default 50)\n";
}

std::vector<std::string> parse_args(int argc, char** argv, options& opt,
                                    bool& help) {
  auto caf_args = parse_command_line(argc, argv, help, [&](option_arg& arg) {
    auto& name = arg.name;
    if (name == "--loads") {
      opt.loads.clear();
      std::stringstream in{arg.value()};
      for (std::string x; std::getline(in, x, ',');) {
        auto p = to_double(name, x);
        if (!(p > 0 && p <= 100))
          die("--loads: each load is a percentage in (0, 100]");
        opt.loads.push_back(p);
      }
      if (opt.loads.empty())
        die("--loads needs at least one percentage");
    } else if (name == "--duration-ms") {
      opt.duration_ms = to_int_in(name, arg.value(), 1, 600'000);
    } else if (name == "--max-items") {
      opt.max_items = to_int_in(name, arg.value(), 1, 1'000'000'000);
    } else if (name == "--runs") {
      opt.runs = static_cast<int>(to_int(name, arg.value()));
    } else if (name == "--variants") {
      opt.variants = arg.value();
    } else if (name == "--capacity") {
      opt.capacity
        = static_cast<size_t>(to_int_in(name, arg.value(), 1, 1'000'000'000));
    } else if (name == "--linger-us") {
      opt.linger = std::chrono::microseconds{
        to_int_in(name, arg.value(), 1, 10'000'000)};
    } else if (arg.is_flag("--stages")) {
      opt.stages = true;
    } else if (name == "--svg") {
      opt.svg = arg.value();
    } else if (name == "--scheduler-threads") {
      opt.scheduler_threads = to_int_in(name, arg.value(), 1, 1024);
    } else {
      return false;
    }
    return true;
  });
  check_runs_and_variants(opt.runs, opt.variants, "abcde");
  return caf_args;
}

constexpr variant_info all_variants[] = {
  {'a', "actorflow stream DSL"},
  {'b', "plain CAF actors"},
  {'c', "oneTBB flow graph"},
  {'d', "std::thread + condvar queues"},
  {'e', "actorflow stream DSL, linger"},
};

std::vector<int64_t> run_variant(char id, caf::actor_system& sys,
                                 const options& opt, double rate, int64_t n) {
  switch (id) {
    case 'a':
      return run_af(sys, opt, rate, n);
    case 'b':
      return run_caf_actors(sys, rate, n);
    case 'c':
      return run_tbb_graph(rate, n);
    case 'd':
      return run_threads(opt, rate, n);
    default:
      return run_af(sys, opt, rate, n, opt.linger);
  }
}

/// Percentiles of one run, in microseconds.
struct percentiles {
  double p50 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
};

percentiles percentiles_of(std::vector<int64_t> ns) {
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    auto i = static_cast<size_t>(q * static_cast<double>(ns.size() - 1));
    return static_cast<double>(ns[i]) / 1e3;
  };
  return {at(0.5), at(0.99), at(0.999), static_cast<double>(ns.back()) / 1e3};
}

/// p50 and p99 (median over the runs) against load, one line pair per
/// peer, on a log scale.
std::string line_chart(const std::vector<double>& loads,
                       const std::map<char, std::vector<percentiles>>& rows,
                       const std::string& subtitle) {
  constexpr double w = 880, h = 460, left = 80, right = 250, top = 50,
                   bottom = 60;
  double lo = 1e300, hi = 0;
  for (auto& [id, ps] : rows)
    for (auto& p : ps) {
      lo = std::min({lo, p.p50, p.p99});
      hi = std::max({hi, p.p50, p.p99});
    }
  lo = std::pow(10, std::floor(std::log10(std::max(lo, 0.1))));
  hi = std::pow(10, std::ceil(std::log10(std::max(hi, lo * 10))));
  auto x_of = [&](size_t i) {
    return left
           + (w - left - right)
               * (loads.size() == 1
                    ? 0.5
                    : static_cast<double>(i)
                        / static_cast<double>(loads.size() - 1));
  };
  auto y_of = [&](double v) {
    auto f = (std::log10(std::max(v, lo)) - std::log10(lo))
             / (std::log10(hi) - std::log10(lo));
    return h - bottom - f * (h - top - bottom);
  };
  const char* colors[] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd",
                          "#ff7f0e"};
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
     << "\" height=\"" << h << "\" font-family=\"sans-serif\" "
     << "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
     << "fill=\"white\"/>\n<text x=\"" << left << "\" y=\"22\" "
     << "font-size=\"15\" font-weight=\"bold\">L1: latency per item against "
     << "load (p50 solid, p99 dashed; log scale)</text>\n<text x=\"" << left
     << "\" y=\"40\" fill=\"#555\">" << subtitle << "</text>\n";
  for (double v = lo; v <= hi * 1.001; v *= 10) {
    auto y = y_of(v);
    os << "<line x1=\"" << left << "\" x2=\"" << w - right << "\" y1=\"" << y
       << "\" y2=\"" << y << "\" stroke=\"#ddd\"/>\n<text x=\"" << left - 8
       << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
       << fmt(v, v < 1 ? 1 : 0) << " us</text>\n";
  }
  for (size_t i = 0; i < loads.size(); ++i)
    os << "<text x=\"" << x_of(i) << "\" y=\"" << h - bottom + 20
       << "\" text-anchor=\"middle\">" << fmt(loads[i], 0) << "%</text>\n";
  os << "<text x=\"" << (left + w - right) / 2 << "\" y=\"" << h - 15
     << "\" text-anchor=\"middle\">offered load (percent of (a)'s maximum "
        "throughput)</text>\n";
  size_t k = 0;
  for (auto& [id, ps] : rows) {
    auto color = colors[k % 5];
    for (int which = 0; which < 2; ++which) {
      os << "<polyline fill=\"none\" stroke=\"" << color
         << "\" stroke-width=\"2\""
         << (which == 1 ? " stroke-dasharray=\"6,4\"" : "") << " points=\"";
      for (size_t i = 0; i < ps.size(); ++i)
        os << x_of(i) << "," << y_of(which == 0 ? ps[i].p50 : ps[i].p99) << " ";
      os << "\"/>\n";
    }
    auto y = top + 20 + 22 * static_cast<double>(k);
    os << "<line x1=\"" << w - right + 15 << "\" x2=\"" << w - right + 40
       << "\" y1=\"" << y << "\" y2=\"" << y << "\" stroke=\"" << color
       << "\" stroke-width=\"3\"/>\n<text x=\"" << w - right + 46 << "\" y=\""
       << y + 4 << "\">(" << id << ") " << all_variants[id - 'a'].label
       << "</text>\n";
    ++k;
  }
  os << "</svg>\n";
  return os.str();
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  caf::actor_system_config cfg;
  std::vector<std::string> caf_args;
  if (auto rc = start("bench_latency", argc, argv, opt, parse_args, usage, cfg,
                      caf_args))
    return *rc;
  caf::actor_system sys{cfg};
  std::cout << "# bench_latency: L1, paced source -> f -> g on 2 workers -> "
               "sink\n\nhardware threads = "
            << std::thread::hardware_concurrency()
            << ", CAF scheduler: " << describe_scheduler(sys)
            << ", runs R = " << opt.runs
            << ", fed time per run = " << opt.duration_ms
            << " ms, load average at start: " << loadavg() << "\n\n";
  std::cout.flush();

  // (a)'s maximum: the median rate of R unpaced runs (after a warm-up).
  auto max_n = std::min<int64_t>(opt.max_items, 500'000);
  run_af(sys, opt, 0, max_n / 10);
  std::vector<double> rates;
  for (int r = 0; r < opt.runs; ++r) {
    auto t0 = clock_type::now();
    run_af(sys, opt, 0, max_n);
    rates.push_back(static_cast<double>(max_n) / seconds_since(t0));
  }
  auto max_rate = summarize(rates).median;
  std::cout << "Maximum throughput of (a), unpaced: " << fmt_rate(max_rate)
            << " items/s (median of " << opt.runs << " runs of " << max_n
            << " items)\n\n";

  std::vector<char> ids;
  for (auto& v : all_variants)
    if (opt.variants.find(v.id) != std::string::npos)
      ids.push_back(v.id);
  for (auto id : ids) // warm-up
    run_variant(id, sys, opt, max_rate * 0.1, 2000);

  std::map<char, std::vector<percentiles>> medians; // per load
  std::cout << "| load | items/s | peer | p50 us | p99 us | p99.9 us | max us "
               "|\n|---:|---:|---|---:|---:|---:|---:|\n";
  std::ostringstream ratios;
  for (auto load : opt.loads) {
    auto rate = max_rate * load / 100;
    auto n = std::clamp<int64_t>(
      static_cast<int64_t>(rate * static_cast<double>(opt.duration_ms) / 1e3),
      100, opt.max_items);
    std::map<char, std::vector<percentiles>> runs;
    for (int r = 0; r < opt.runs; ++r)
      for (auto id : ids)
        runs[id].push_back(percentiles_of(run_variant(id, sys, opt, rate, n)));
    for (auto id : ids) {
      auto med = [&](double percentiles::*m) {
        std::vector<double> xs;
        for (auto& p : runs[id])
          xs.push_back(p.*m);
        return summarize(xs).median;
      };
      percentiles p{med(&percentiles::p50), med(&percentiles::p99),
                    med(&percentiles::p999), med(&percentiles::max)};
      medians[id].push_back(p);
      std::cout << "| " << fmt(load, 0) << "% | " << fmt_rate(rate) << " | ("
                << id << ") " << all_variants[id - 'a'].label << " | "
                << fmt(p.p50, 1) << " | " << fmt(p.p99, 1) << " | "
                << fmt(p.p999, 1) << " | " << fmt(p.max, 1) << " |\n";
    }
    if (medians.count('a') != 0)
      for (auto id : ids)
        if (id != 'a' && id != 'e')
          ratios << "| " << fmt(load, 0) << "% | (" << id << ") "
                 << all_variants[id - 'a'].label << " | "
                 << fmt_ratio(medians['a'].back().p50 / medians[id].back().p50)
                 << " | "
                 << fmt_ratio(medians['a'].back().p99 / medians[id].back().p99)
                 << " |\n";
    std::cout.flush();
  }
  if (!ratios.str().empty())
    std::cout << "\nRatio of (a)'s latency to each peer's (< 1: actorflow "
                 "is faster):\n\n| load | peer | p50 | p99 |\n|---:|---|---:|"
                 "---:|\n"
              << ratios.str();
  if (!opt.svg.empty()) {
    std::ofstream{opt.svg} << line_chart(
      opt.loads, medians,
      "2 cores; max of (a) " + fmt_rate(max_rate) + " items/s; medians of "
        + std::to_string(opt.runs) + " runs");
    std::cout << "\nChart: " << opt.svg << "\n";
  }
  return 0;
}
