// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The stall watchdog: "which stage is stuck?" answered from the per-stage
// statistics (stats.hpp). Opt in per run with `run_options::watchdog`; the
// analysis is also a function of two readings, `find_stall`.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <caf/error.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/stats.hpp"

namespace actorflow {

/// What the watchdog found: the stage that holds a pipeline back.
struct stall_report {
  /// The stage that holds the pipeline back (its name in `pipeline_stats`).
  std::string stage;
  /// What that stage did while nothing left the pipeline: `busy` (running
  /// its code, e.g. a loop that does not end) or `waiting` (e.g. for the
  /// answer of an actor).
  stage_state doing = stage_state::busy;
  /// How long no item left the pipeline.
  std::chrono::nanoseconds quiet{0};
  /// The same as an error (`error_code::stalled`), its message naming the
  /// stage and what the stages around it did, as the log line says.
  caf::error error;
  /// The statistics when the watchdog reported.
  pipeline_stats stats;
};

/// Watches a run for stalls (see `run_options::watchdog`): when no item left
/// the pipeline's last stages for `after`, while some stage still had work,
/// it names the stage that holds the pipeline back: the stage that was busy
/// or waiting all that time, with the stages after it idle (waiting for its
/// output) and those before it stalled (held back by it), found by walking
/// the graph upstream from the last stages. It reports once per stall (again
/// after items moved), and never for a pipeline that merely has no input.
///
/// The watchdog is a thread that reads the statistics every `after / 4`
/// (the same reading as `stats()`, no cost to the stages) while the run
/// lasts.
///
/// ~~~
/// actorflow::run_options opts;
/// opts.watchdog.after = std::chrono::seconds{5};
/// opts.watchdog.on_stall = [](const actorflow::stall_report& r) {
///   alert(r.stage, actorflow::to_string_any(r.error));
/// };
/// auto run = source.then(fetch).for_each(store).start(sys, opts);
/// ~~~
struct stall_watchdog {
  /// How long no item may leave the pipeline before the watchdog reports;
  /// zero (the default) turns it off.
  std::chrono::nanoseconds after{0};
  /// Called with each report, on the watchdog's thread.
  std::function<void(const stall_report&)> on_stall = nullptr;
  /// Also write each report to `std::clog`, one line.
  bool log = true;
};

/// Compares two readings of one run's statistics, `before` and `now`, and
/// names the stage that held the pipeline back in between: walking upstream
/// from the pipeline's last stages through stages that were mostly idle, the
/// stage that was mostly busy or waiting (of several, the one that was so the
/// longest). Nothing if every stage on the way was idle (the pipeline had
/// nothing to do) or the readings are of different runs.
ACTORFLOW_EXPORT std::optional<stall_report> find_stall(
  const pipeline_stats& before, const pipeline_stats& now);

namespace detail {

struct run_state;

/// Starts the watchdog of a run (a detached thread that ends with the run).
ACTORFLOW_EXPORT void start_watchdog(std::shared_ptr<run_state> st,
                                     stall_watchdog settings);

} // namespace detail

} // namespace actorflow
