// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/stall_watchdog.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <iostream>
#include <thread>
#include <utility>
#include <vector>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/build_context.hpp"
#include "actorflow/internal/stats_graph.hpp"

namespace actorflow {

namespace {

using std::chrono::nanoseconds;

/// Where a stage's time went between two readings.
struct spent {
  nanoseconds busy{0};
  nanoseconds stalled{0};
  nanoseconds idle{0};
  nanoseconds waiting{0};

  /// The state it spent the most time in (idle on a tie with nothing).
  stage_state mostly() const noexcept {
    auto best = idle;
    auto result = stage_state::idle;
    for (auto [t, s] : {std::pair{busy, stage_state::busy},
                        std::pair{waiting, stage_state::waiting},
                        std::pair{stalled, stage_state::stalled}}) {
      if (t > best) {
        best = t;
        result = s;
      }
    }
    return result;
  }
};

spent between(const stage_stats& a, const stage_stats& b) {
  return spent{b.busy - a.busy, b.stalled - a.stalled, b.idle - a.idle,
               b.waiting - a.waiting};
}

/// Items that left the pipeline so far: taken by its last stages (those
/// without a data edge to another stage), or sent out of it.
uint64_t items_out(const pipeline_stats& st) {
  auto has_next = internal::feeds_a_stage(st);
  uint64_t result = 0;
  for (size_t i = 0; i < st.stages.size(); ++i)
    if (!has_next[i])
      result += st.stages[i].items_in + st.stages[i].items_out;
  return result;
}

std::string ms_text(nanoseconds d) {
  auto ms = std::chrono::duration<double, std::milli>(d).count();
  char buf[32];
  std::snprintf(buf, sizeof(buf), ms < 10 ? "%.1f ms" : "%.0f ms", ms);
  return buf;
}

std::string percent(nanoseconds part, nanoseconds whole) {
  if (whole.count() <= 0)
    return "0%";
  auto p = 100.0 * static_cast<double>(part.count())
           / static_cast<double>(whole.count());
  return std::to_string(static_cast<int>(std::clamp(p, 0.0, 100.0) + 0.5))
         + "%";
}

/// "then#2 holds the pipeline back: busy 100% of the last 500 ms; after
/// it idle: sink#3; before it stalled: iota#1".
std::string describe(const pipeline_stats& now, size_t cause,
                     const std::vector<spent>& d, nanoseconds quiet) {
  auto& s = now.stages[cause];
  auto what = d[cause].mostly();
  auto t = what == stage_state::busy ? d[cause].busy : d[cause].waiting;
  auto window = d[cause].busy + d[cause].stalled + d[cause].idle
                + d[cause].waiting;
  std::string msg = "no item left the pipeline for " + ms_text(quiet) + "; "
                    + s.name + " holds it back: " + to_string(what) + " "
                    + percent(t, window) + " of that time";
  std::string after;
  std::string before;
  // Direct neighbours along the data edges, with what they mostly did.
  for (auto& e : now.edges) {
    if (!internal::data_edge(e))
      continue;
    if (e.from == cause)
      after += (after.empty() ? "" : ", ") + now.stages[e.to].name + " "
               + to_string(d[e.to].mostly());
    if (e.to == cause)
      before += (before.empty() ? "" : ", ") + now.stages[e.from].name + " "
                + to_string(d[e.from].mostly());
  }
  if (!after.empty())
    msg += "; after it: " + after;
  if (!before.empty())
    msg += "; before it: " + before;
  return msg;
}

} // namespace

std::optional<stall_report> find_stall(const pipeline_stats& before,
                                       const pipeline_stats& now) {
  auto n = now.stages.size();
  if (n == 0 || before.stages.size() != n)
    return std::nullopt;
  for (size_t i = 0; i < n; ++i)
    if (before.stages[i].name != now.stages[i].name)
      return std::nullopt;
  std::vector<spent> d(n);
  for (size_t i = 0; i < n; ++i)
    d[i] = between(before.stages[i], now.stages[i]);
  std::vector<std::vector<size_t>> prev(n);
  for (auto& e : now.edges)
    if (internal::data_edge(e))
      prev[e.to].push_back(e.from);
  auto has_next = internal::feeds_a_stage(now);
  // Walk upstream from the last stages through idle (or stalled) stages;
  // the first busy or waiting stage on each path is a candidate.
  std::deque<size_t> todo;
  for (size_t i = 0; i < n; ++i)
    if (!has_next[i])
      todo.push_back(i);
  std::vector<bool> seen(n, false);
  std::optional<size_t> cause;
  nanoseconds longest{0};
  while (!todo.empty()) {
    auto i = todo.front();
    todo.pop_front();
    if (seen[i])
      continue;
    seen[i] = true;
    auto what = d[i].mostly();
    if (what == stage_state::busy || what == stage_state::waiting) {
      auto t = d[i].busy + d[i].waiting;
      if (!cause || t > longest) {
        cause = i;
        longest = t;
      }
      continue;
    }
    for (auto j : prev[i])
      todo.push_back(j);
  }
  if (!cause)
    return std::nullopt;
  stall_report result;
  result.stage = now.stages[*cause].name;
  result.doing = d[*cause].mostly();
  auto& c = d[*cause];
  result.quiet = c.busy + c.stalled + c.idle + c.waiting;
  result.error = make_error(error_code::stalled,
                            describe(now, *cause, d, result.quiet));
  result.stats = now;
  return result;
}

namespace detail {

void start_watchdog(std::shared_ptr<run_state> st, stall_watchdog settings) {
  if (settings.after <= nanoseconds::zero() || !st || !st->monitor)
    return;
  // Reads four times per `after`, so a stall is seen within 1.25 `after`.
  auto period = std::max<nanoseconds>(settings.after / 4,
                                      std::chrono::milliseconds{1});
  std::thread{[st = std::move(st), settings = std::move(settings), period] {
    using clock = std::chrono::steady_clock;
    auto last = st->monitor->stats();
    auto moved_at = clock::now();
    auto moved = items_out(last);
    bool reported = false;
    for (;;) {
      {
        std::unique_lock guard{st->mtx};
        if (st->cv.wait_for(guard, period, [&] { return st->finished; }))
          return;
      }
      auto now = st->monitor->stats();
      if (auto out = items_out(now); out != moved) {
        moved = out;
        moved_at = clock::now();
        last = std::move(now);
        reported = false;
        continue;
      }
      if (reported || clock::now() - moved_at < settings.after)
        continue;
      auto report = find_stall(last, now);
      if (!report) {
        // Nothing to do is no stall: watch the next `after` afresh.
        last = std::move(now);
        moved_at = clock::now();
        continue;
      }
      reported = true;
      if (settings.log)
        std::clog << "actorflow: stall: " << to_string_any(report->error)
                  << std::endl;
      if (settings.on_stall)
        settings.on_stall(*report);
    }
  }}.detach();
}

} // namespace detail

} // namespace actorflow
