// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/stats.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <utility>

#if ACTORFLOW_PROBE_TSC
#  include <cpuid.h>
#endif

#include "actorflow/detail/channel_params.hpp"
#include "actorflow/detail/duration_text.hpp"

namespace actorflow::detail {

bool detect_invariant_tsc() noexcept {
#if ACTORFLOW_PROBE_TSC
  unsigned a = 0;
  unsigned b = 0;
  unsigned c = 0;
  unsigned d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) != 0 && a >= 0x80000007u
      && __get_cpuid(0x80000007u, &a, &b, &c, &d) != 0)
    return (d & (1u << 8)) != 0; // "invariant TSC" (Linux: nonstop_tsc)
#endif
  return false;
}

namespace {

/// A steady-clock reading and the ticks around it.
struct clock_pair {
  int64_t ticks;
  int64_t ns;
  int64_t width; // ticks between the two tick readings around `ns`
};

clock_pair read_pair() noexcept {
  auto before = probe_clock();
  auto ns = steady_ns();
  auto after = probe_clock();
  return {before + (after - before) / 2, ns, after - before};
}

/// The tightest of a few readings (a preemption between the readings makes
/// one wide).
clock_pair best_pair() noexcept {
  auto best = read_pair();
  for (int i = 0; i < 8; ++i)
    if (auto p = read_pair(); p.width < best.width)
      best = p;
  return best;
}

/// Measures ns per tick once: over 0.5 ms, the reading error (tens of
/// ticks) is below 0.01%. A fixed rate keeps the figures of a finished
/// stage identical from one reading to the next.
double measure_tick_ns() noexcept {
  if (!probe_clock_is_tsc())
    return 1.0;
  constexpr int64_t span = 500'000;
  for (;;) {
    auto first = best_pair();
    while (steady_ns() - first.ns < span) {
      // spin: once per process, when the first pipeline is built
    }
    auto last = best_pair();
    if (last.ticks > first.ticks && last.ns > first.ns)
      return static_cast<double>(last.ns - first.ns)
             / static_cast<double>(last.ticks - first.ticks);
  }
}

double tick_ns_value() noexcept {
  static const double result = measure_tick_ns();
  return result;
}

} // namespace

void start_probe_calibration() noexcept {
  static_cast<void>(tick_ns_value());
}

double probe_tick_ns() noexcept {
  return tick_ns_value();
}

} // namespace actorflow::detail

namespace actorflow {

const char* to_string(stage_state x) noexcept {
  switch (x) {
    case stage_state::starting:
      return "starting";
    case stage_state::busy:
      return "busy";
    case stage_state::stalled:
      return "stalled";
    case stage_state::idle:
      return "idle";
    case stage_state::waiting:
      return "waiting";
    case stage_state::done:
      return "done";
  }
  return "?";
}

// -- pipeline_stats -----------------------------------------------------------

const stage_stats* pipeline_stats::bottleneck() const noexcept {
  const stage_stats* result = nullptr;
  for (auto& st : stages)
    if (st.busy.count() > 0 && (result == nullptr || st.busy > result->busy))
      result = &st;
  return result;
}

const stage_stats* pipeline_stats::find(std::string_view name) const noexcept {
  for (auto& st : stages)
    if (st.name == name)
      return &st;
  return nullptr;
}

namespace {

std::string percent(double x) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.0f%%", x * 100.0);
  return buf;
}

/// Quotes `x` as a Graphviz string (the label escapes `\n` stay intact).
std::string quoted(const std::string& x) {
  std::string result = "\"";
  for (auto c : x) {
    if (c == '"')
      result += "\\\"";
    else if (c == '\n')
      result += "\\n";
    else
      result += c;
  }
  result += '"';
  return result;
}

std::string escape_name(const std::string& x) {
  std::string result;
  for (auto c : x) {
    if (c == '\\')
      result += "\\\\";
    else
      result += c;
  }
  return result;
}

/// A node id such as "s3" (built without `"s" + std::to_string(i)`, which
/// trips a false -Wrestrict in g++ 12).
std::string node_id(char prefix, size_t i) {
  std::string result(1, prefix);
  result += std::to_string(i);
  return result;
}

std::string millis(std::chrono::nanoseconds x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", x.count() / 1e6);
  return buf;
}

} // namespace

std::string detail::duration_text(std::chrono::nanoseconds x) {
  char buf[32];
  auto ns = static_cast<double>(x.count());
  if (x.count() <= 0)
    return "-";
  if (ns < 1e3)
    std::snprintf(buf, sizeof(buf), "%.0f ns", ns);
  else if (ns < 1e6)
    std::snprintf(buf, sizeof(buf), "%.3g us", ns / 1e3);
  else if (ns < 1e9)
    std::snprintf(buf, sizeof(buf), "%.3g ms", ns / 1e6);
  else
    std::snprintf(buf, sizeof(buf), "%.3g s", ns / 1e9);
  return buf;
}

std::string pipeline_stats::to_dot() const {
  auto hot = bottleneck();
  std::string out = "digraph pipeline {\n"
                    "  rankdir=LR;\n"
                    "  node [shape=box, style=\"rounded,filled\", "
                    "fillcolor=white, fontname=\"Helvetica\"];\n"
                    "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  for (size_t i = 0; i < stages.size(); ++i) {
    auto& st = stages[i];
    std::string label = escape_name(st.name);
    label += "\nin " + std::to_string(st.items_in) + ", out "
             + std::to_string(st.items_out);
    label += "\nbusy " + percent(st.busy_share()) + ", stalled "
             + percent(st.stalled_share()) + ", idle "
             + percent(st.idle_share());
    if (st.waiting.count() > 0)
      label += ", waiting " + percent(st.waiting_share());
    if (st.latency.count() > 0)
      label += "\nlatency p50 "
               + detail::duration_text(st.latency.percentile(0.5)) + ", p99 "
               + detail::duration_text(st.latency.percentile(0.99));
    if (st.retried + st.skipped + st.failed > 0)
      label += "\nfailed calls: retried " + std::to_string(st.retried)
               + ", skipped " + std::to_string(st.skipped) + ", failed "
               + std::to_string(st.failed);
    if (st.workers_lost > 0)
      label += "\nremote workers lost: " + std::to_string(st.workers_lost);
    if (!st.done)
      label += std::string{"\n("} + to_string(st.state) + ")";
    out += "  " + node_id('s', i) + " [label=" + quoted(label);
    if (&st == hot)
      out += ", fillcolor=\"#f4a6a6\", penwidth=2, "
             "tooltip=\"bottleneck: busy the longest\"";
    out += "];\n";
  }
  size_t outside_nodes = 0;
  auto node = [&](size_t i) {
    if (i != edge_stats::outside)
      return node_id('s', i);
    auto id = node_id('x', outside_nodes++);
    out += "  " + id + " [shape=point, label=\"\"];\n";
    return id;
  };
  for (auto& e : edges) {
    auto from = node(e.from);
    auto to = node(e.to);
    std::string label = std::to_string(e.items) + (e.control ? " tokens" : "")
                        + "\ncap " + std::to_string(e.capacity) + ", peak "
                        + std::to_string(e.max_in_flight);
    out += "  " + from + " -> " + to + " [label=" + quoted(label);
    if (e.control)
      out += ", style=dashed, constraint=false";
    out += "];\n";
  }
  out += "}\n";
  return out;
}

std::string to_string(const pipeline_stats& x) {
  size_t width = 5;
  for (auto& st : x.stages)
    width = std::max(width, st.name.size());
  auto hot = x.bottleneck();
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "%-*s %12s %12s %6s %8s %6s %8s %10s %9s %9s  %s\n",
                static_cast<int>(width), "stage", "in", "out", "busy",
                "stalled", "idle", "waiting", "alive ms", "p50", "p99",
                "state");
  out += buf;
  for (auto& st : x.stages) {
    std::snprintf(
      buf, sizeof(buf),
      "%-*s %12" PRIu64 " %12" PRIu64 " %6s %8s %6s %8s %10s %9s %9s  %s%s\n",
      static_cast<int>(width), st.name.c_str(), st.items_in, st.items_out,
      percent(st.busy_share()).c_str(), percent(st.stalled_share()).c_str(),
      percent(st.idle_share()).c_str(), percent(st.waiting_share()).c_str(),
      millis(st.alive()).c_str(),
      detail::duration_text(st.latency.percentile(0.5)).c_str(),
      detail::duration_text(st.latency.percentile(0.99)).c_str(),
      to_string(st.state), &st == hot ? "  <- bottleneck" : "");
    out += buf;
  }
  return out;
}

// -- pipeline_monitor ---------------------------------------------------------

pipeline_monitor::pipeline_monitor() {
  // nop
}

pipeline_monitor::~pipeline_monitor() {
  // nop
}

std::shared_ptr<detail::stage_probe> pipeline_monitor::add_stage(
  std::string name) {
  detail::start_probe_calibration();
  auto result = std::make_shared<detail::stage_probe>(std::move(name));
  std::lock_guard guard{mtx_};
  stages_.push_back(result);
  return result;
}

void pipeline_monitor::start_over() {
  std::lock_guard guard{mtx_};
  stages_.clear();
}

namespace {

/// One end of a channel, as a stage's probe sees it.
struct port_view {
  size_t stage;
  bool input;
  bool control;
  size_t capacity;
  uint64_t items;
};

/// The channels of a pipeline in order of first appearance, with their ends.
struct channel_ends {
  std::vector<const detail::channel_stats*> order;
  std::map<const detail::channel_stats*, std::vector<port_view>> ends;
};

std::chrono::nanoseconds ticks_to_ns(int64_t ticks) {
  return std::chrono::nanoseconds{
    static_cast<int64_t>(static_cast<double>(ticks) * detail::probe_tick_ns())};
}

/// Reads stage `index`; files the ends of its channels into `channels`.
stage_stats read_stage(detail::stage_probe& probe, size_t index, int64_t now,
                       channel_ends& channels) {
  stage_stats st;
  st.name = probe.name();
  auto t = probe.read(now);
  using bucket = detail::stage_probe::bucket;
  st.busy = ticks_to_ns(t.ticks[bucket::busy_ticks]);
  st.stalled = ticks_to_ns(t.ticks[bucket::stalled_ticks]);
  st.idle = ticks_to_ns(t.ticks[bucket::idle_ticks]);
  st.waiting = ticks_to_ns(t.ticks[bucket::waiting_ticks]);
  st.state = t.state;
  st.done = t.state == stage_state::done;
  st.latency = probe.read_latency();
  st.retried = probe.failures(failure_action::retry);
  st.skipped = probe.failures(failure_action::skip);
  st.failed = probe.failures(failure_action::fail);
  st.workers_lost = probe.workers_lost();
  probe.for_each_port([&](const detail::port_probe& p) {
    auto n = p.items.load(std::memory_order_relaxed);
    if (!p.control)
      (p.input ? st.items_in : st.items_out) += n;
    if (auto ch = p.channel.get()) {
      auto& ends = channels.ends[ch];
      if (ends.empty())
        channels.order.push_back(ch);
      ends.push_back(port_view{index, p.input, p.control, p.capacity, n});
    }
  });
  return st;
}

/// Adds the edges of one channel: each writer to each reader, or to and from
/// `edge_stats::outside` when one side is not a stage of the pipeline.
void add_edges(const detail::channel_stats& ch,
               const std::vector<port_view>& ends, pipeline_stats& result) {
  std::vector<const port_view*> writers;
  std::vector<const port_view*> readers;
  bool control = false;
  size_t capacity = 0;
  for (auto& p : ends) {
    (p.input ? readers : writers).push_back(&p);
    control = control || p.control;
    capacity = p.capacity;
  }
  auto peak = ch.max_in_flight.load(std::memory_order_relaxed);
  result.cancelled += ch.cancelled.load(std::memory_order_relaxed);
  result.lost += ch.lost.load(std::memory_order_relaxed);
  auto add = [&](const port_view* w, const port_view* r, uint64_t items) {
    edge_stats e;
    e.from = w != nullptr ? w->stage : edge_stats::outside;
    e.to = r != nullptr ? r->stage : edge_stats::outside;
    e.items = items;
    e.capacity = capacity;
    e.max_in_flight = peak;
    e.control = control;
    result.edges.push_back(e);
  };
  if (writers.empty()) {
    for (auto r : readers)
      add(nullptr, r, r->items);
  } else if (readers.empty()) {
    for (auto w : writers)
      add(w, nullptr, w->items);
  } else {
    for (auto w : writers)
      for (auto r : readers)
        add(w, r, writers.size() == 1 ? r->items : w->items);
  }
}

} // namespace

pipeline_stats pipeline_monitor::stats() const {
  std::vector<std::shared_ptr<detail::stage_probe>> probes;
  {
    std::lock_guard guard{mtx_};
    probes = stages_;
  }
  channel_ends channels;
  pipeline_stats result;
  result.stages.reserve(probes.size());
  auto now = detail::probe_clock();
  for (size_t i = 0; i < probes.size(); ++i) {
    result.stages.push_back(read_stage(*probes[i], i, now, channels));
    result.workers_lost += result.stages.back().workers_lost;
  }
  for (auto ch : channels.order)
    add_edges(*ch, channels.ends[ch], result);
  return result;
}

std::string pipeline_monitor::to_dot() const {
  return stats().to_dot();
}

} // namespace actorflow
