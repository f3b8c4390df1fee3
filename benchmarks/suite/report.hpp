// This file is part of actorflow. See README.md for the project's license.
//
// suite/report.hpp: what bench_suite writes: Markdown tables and
// hand-rolled SVG bar charts of the measurements, and the report around them
// (docs/benchmarks/README.md and docs/benchmarks/*.svg).

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bench {

// -- results ------------------------------------------------------------------

/// One bar of a chart / row of a table: a variant's measurements.
struct series {
  std::string id;
  std::string label;
  std::vector<double> values; // items/s (or the workload's unit)
  std::vector<double> cpu_ns; // process CPU ns per item, if measured
  bool ours = false;          // an actorflow variant
};

/// A target of the suite: what a workload must reach.
struct target {
  std::string what;
  std::string measured;
  bool met;
};

struct section {
  std::string id;
  std::string title;
  std::string text; // Markdown body
  std::vector<target> targets;
};

// -- tables -------------------------------------------------------------------

/// Table of series (median/min/max of `unit`, CPU ns/item) and a ratio
/// table: each actorflow row divided by every other row.
std::string rate_tables(const std::vector<series>& ss,
                        const std::string& unit = "items/s");

/// The series `id` of `ss` (dies if there is none).
const series& find_series(const std::vector<series>& ss, const std::string& id);

/// The median of the values of series `id`.
double median_of(const std::vector<series>& ss, const std::string& id);

// -- SVG ----------------------------------------------------------------------

struct bar {
  std::string label;
  double median;
  double min;
  double max;
  bool ours;
};

/// A horizontal bar chart: one bar per entry (median) with a min-max
/// whisker, values written next to the bars; `log_scale` for data spanning
/// orders of magnitude.
std::string bar_chart(const std::string& title, const std::string& unit,
                      const std::vector<bar>& bars, bool log_scale,
                      const std::function<std::string(double)>& show);

/// One bar per series: median, min and max of its values.
std::vector<bar> bars_of(const std::vector<series>& ss);

// -- the report ---------------------------------------------------------------

/// What the report's header says about the run.
struct run_info {
  std::string command; // the command line that regenerates the report
  bool quick = false;
  double scale = 1.0;
  double seconds = 0;    // wall time of the whole run
  std::string scheduler; // describe_scheduler() of the suite's actor system
  std::string load_start;
  /// Load average when each workload started: (workload, loadavg()).
  std::vector<std::pair<std::string, std::string>> loads;
  std::string note; // --note
};

/// True if every target of every section is met.
bool all_met(const std::vector<section>& secs);

/// The Markdown report: header, the table of all targets, then the sections
/// in the order given.
std::string markdown(const run_info& info, const std::vector<section>& secs);

/// Writes `md` to `dir`/README.md and every chart of `svgs` (file name ->
/// SVG text) into `dir`, creating `dir` if need be.
void write_report(const std::string& dir, const std::string& md,
                  const std::map<std::string, std::string>& svgs);

} // namespace bench
