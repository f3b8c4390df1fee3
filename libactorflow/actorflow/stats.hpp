// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Per-stage statistics of stream-DSL pipelines: items in and out, and where
// each stage actor spends its time (busy, stalled on backpressure, idle
// waiting for input, waiting on anything else), readable while the pipeline
// runs and after it ended; `to_dot()` draws the pipeline with those figures
// and marks the bottleneck.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "actorflow/detail/export.hpp"
#include "actorflow/detail/stage_probe.hpp"
#include "actorflow/latency_histogram.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"

namespace actorflow {

/// What one stage actor of a pipeline did so far.
///
/// The four durations partition the stage's life, from its first activation
/// to its end (or to the moment of reading): `busy + stalled + idle +
/// waiting == alive()`.
///
/// - **busy**: running the stage's code: from resuming its coroutine to the
///   end of that activation of its actor (the user's function and flushing
///   the batches it produced included). Activations that only handle
///   channel protocol (credit, read-ahead) count towards the state the stage
///   waits in.
/// - **stalled**: suspended in `send` without credit, i.e. the next stage (or
///   the channel's capacity) holds it back. For the scatter of an ordered
///   `parallel_then`, waiting for a reorder token counts here too.
/// - **idle**: suspended in `recv`, waiting for input.
/// - **waiting**: suspended on anything else, e.g. `co_await
///   actorflow::ask(...)` in a `then` coroutine (so a stage that mostly
///   waits for another actor shows up as waiting, not busy).
///
/// Counting costs no clock reading per item: items are counted with the
/// counters the channel ends keep anyway and published when they report to
/// the channel (at the end of an activation, and every half read-ahead
/// window), and the clock (the invariant TSC on x86) is read twice per
/// activation that runs the stage's code, typically once per batch of items.
/// While a stage runs, `items_in` may lag behind by up to half a read-ahead
/// window (at most one batch); once it is done every figure is final and
/// exact.
struct stage_stats {
  /// The stage's name: operator and position, e.g. "then#2", or
  /// "parallel_then#3.worker1" for the actors of a scatter stage.
  std::string name;
  /// Items the stage took from its input channels (`recv` returned them).
  uint64_t items_in = 0;
  /// Items the stage's `send`s accepted.
  uint64_t items_out = 0;
  /// Time spent running user code and moving items.
  std::chrono::nanoseconds busy{0};
  /// Time spent waiting for credit downstream (backpressure).
  std::chrono::nanoseconds stalled{0};
  /// Time spent waiting for input upstream.
  std::chrono::nanoseconds idle{0};
  /// Time spent waiting on something else, e.g. the answer of an actor.
  std::chrono::nanoseconds waiting{0};
  /// How long the stage's items took through it: from entering the
  /// stage's input channel (queueing included) to the end of the stage
  /// activation that took them, when what it made of them leaves. Measured
  /// per delivery of items to the stage, not per item: every item of a
  /// delivery counts with the time of its oldest item, so figures err on
  /// the high side by up to a batch. Empty for sources, and for the
  /// receivers of a channel from another process (another clock).
  ///
  /// ~~~
  /// auto p99 = st.latency.percentile(0.99); // within 25%, rounded up
  /// ~~~
  latency_histogram latency;
  /// Failed calls of the stage's function that it then retried (see
  /// `error_policy::retry`).
  uint64_t retried = 0;
  /// Items the stage dropped after a failed call (`error_policy::skip`).
  uint64_t skipped = 0;
  /// Failed calls that ended the pipeline (at most one per stage actor).
  uint64_t failed = 0;
  /// Remote workers lost: for the supervisor of a worker on a node (see
  /// `remote_parallel_then`), 1 once that node died, hung or disconnected
  /// and the stage went on without the worker.
  uint64_t workers_lost = 0;
  /// What the stage is doing now (`stage_state::done` once it ended).
  stage_state state = stage_state::starting;
  /// True once the stage ended.
  bool done = false;

  /// busy + stalled + idle + waiting.
  std::chrono::nanoseconds alive() const noexcept {
    return busy + stalled + idle + waiting;
  }

  /// The part of `alive()` spent busy, in [0, 1] (0 before the first
  /// activation).
  double busy_share() const noexcept {
    return share(busy);
  }

  /// The part of `alive()` spent stalled on backpressure.
  double stalled_share() const noexcept {
    return share(stalled);
  }

  /// The part of `alive()` spent idle, waiting for input.
  double idle_share() const noexcept {
    return share(idle);
  }

  /// The part of `alive()` spent waiting on anything else.
  double waiting_share() const noexcept {
    return share(waiting);
  }

private:
  double share(std::chrono::nanoseconds x) const noexcept {
    auto total = alive().count();
    return total > 0 ? static_cast<double>(x.count()) / total : 0.0;
  }
};

/// One channel between two stages (or between a stage and the outside, for
/// `from(receiver)`).
struct edge_stats {
  /// Marks an end outside the pipeline.
  static constexpr size_t outside = static_cast<size_t>(-1);
  /// Index into `pipeline_stats::stages` of the sending stage, or `outside`.
  size_t from = outside;
  /// Index into `pipeline_stats::stages` of the receiving stage, or
  /// `outside`.
  size_t to = outside;
  /// Items that went this way: those the receiving stage took if the channel
  /// has one sending stage (fan-out: per receiver), else those the sending
  /// stage sent (fan-in: per sender).
  uint64_t items = 0;
  /// The channel's capacity.
  size_t capacity = 0;
  /// The channel's high-water mark of items in flight (see
  /// `channel_metrics::max_in_flight`); equal to `capacity` means the
  /// channel ran full, i.e. its receiver held its sender back.
  uint64_t max_in_flight = 0;
  /// A control channel flowing against the data: the reorder tokens of an
  /// ordered `parallel_then`, from its gather back to its scatter.
  bool control = false;
};

/// A snapshot of a pipeline's statistics: every stage actor in the order
/// they were spawned (sources first, then downstream) and every channel
/// between them.
///
/// ~~~
/// auto run = actorflow::iota(0, 1'000'000).then(parse).for_each(store)
///              .start(sys);
/// run.wait();
/// auto st = run.stats();
/// if (auto b = st.bottleneck())
///   std::cout << "bottleneck: " << b->name << '\n';
/// std::ofstream{"pipeline.dot"} << st.to_dot(); // dot -Tsvg pipeline.dot
/// std::cout << actorflow::to_string(st);       // a table
/// ~~~
struct ACTORFLOW_EXPORT pipeline_stats {
  /// Every stage of the pipeline, in data-path order.
  std::vector<stage_stats> stages;
  /// Every channel between two stages (or between a stage and outside).
  std::vector<edge_stats> edges;
  /// Items the channels dropped because the run was cancelled or a stage
  /// failed: buffered or in flight, never processed. A channel counts them
  /// as it drops them, when its stages' ends close, so this may still grow
  /// for a moment after the run ended.
  uint64_t cancelled = 0;
  /// Items the channels lost otherwise (a stage actor killed from outside
  /// the pipeline while items were on their way to it).
  uint64_t lost = 0;
  /// Remote workers lost, summed over the stages (see
  /// `stage_stats::workers_lost`).
  uint64_t workers_lost = 0;

  /// The stage that limits the pipeline's throughput: the one that was busy
  /// the longest (= the highest busy share of the pipeline's run time).
  /// Stages that are stalled or idle wait for it. Null without stages or
  /// before any stage was busy.
  const stage_stats* bottleneck() const noexcept;

  /// The stage named `name`, or null.
  const stage_stats* find(std::string_view name) const noexcept;

  /// The pipeline as a Graphviz digraph: a node per stage labelled with its
  /// items in/out and busy/stalled/idle(/waiting) shares of its life, an
  /// edge per channel labelled with its items, capacity and high-water mark
  /// (control channels dashed); the bottleneck is filled red.
  std::string to_dot() const;
};

/// Renders `x` as a table: one line per stage.
ACTORFLOW_EXPORT std::string to_string(const pipeline_stats& x);

/// Collects the statistics of a pipeline run: pass one in `run_options` to
/// read them while a blocking `run` runs (from another thread) or after it
/// returned. `running<R>::stats()` reads the same thing for `start`.
/// Recording starts over with every run given the monitor; use one monitor
/// per concurrent run.
///
/// ~~~
/// actorflow::run_options opts;
/// opts.monitor = std::make_shared<actorflow::pipeline_monitor>();
/// auto sum = actorflow::iota(0, 100).then(f).fold(0, plus).run(sys, opts);
/// std::cout << opts.monitor->to_dot();
/// ~~~
class ACTORFLOW_EXPORT pipeline_monitor {
public:
  pipeline_monitor();

  ~pipeline_monitor();

  pipeline_monitor(const pipeline_monitor&) = delete;
  pipeline_monitor& operator=(const pipeline_monitor&) = delete;

  /// A snapshot of every stage and channel; safe from any thread at any
  /// time.
  pipeline_stats stats() const;

  /// Same as `stats().to_dot()`.
  std::string to_dot() const;

  /// @private Registers a stage actor about to be spawned.
  std::shared_ptr<detail::stage_probe> add_stage(std::string name);

  /// @private Forgets the stages of an earlier run.
  void start_over();

private:
  mutable std::mutex mtx_;
  std::vector<std::shared_ptr<detail::stage_probe>> stages_;
};

namespace detail {

/// The channels of a pipeline that carry control messages (tokens).
using control_channels = std::vector<const channel_stats*>;

/// Lets the endpoint of `hdl` count its items for `probe`, and records the
/// channel so that `pipeline_stats` can draw the edge.
template <class Handle>
void attach_port(const std::shared_ptr<stage_probe>& probe, Handle& hdl,
                 bool input, const control_channels& control) {
  auto ep = hdl.endpoint();
  if (ep == nullptr)
    return;
  auto& ch = hdl.channel_stats_ptr();
  bool is_control = false;
  for (auto x : control)
    if (x == ch.get())
      is_control = true;
  auto port = probe->add_port(input, is_control, ch, ep->params().capacity);
  ep->set_probe(probe, port);
}

/// Attaches every channel handle among a stage's arguments to its probe.
template <class X>
void probe_arg(const std::shared_ptr<stage_probe>&, X&,
               const control_channels&) {
  // not a channel handle
}

template <class T>
void probe_arg(const std::shared_ptr<stage_probe>& probe, receiver<T>& x,
               const control_channels& control) {
  attach_port(probe, x, true, control);
}

template <class T>
void probe_arg(const std::shared_ptr<stage_probe>& probe, sender<T>& x,
               const control_channels& control) {
  attach_port(probe, x, false, control);
}

template <class T>
void probe_arg(const std::shared_ptr<stage_probe>& probe,
               std::vector<receiver<T>>& xs, const control_channels& control) {
  for (auto& x : xs)
    attach_port(probe, x, true, control);
}

template <class T>
void probe_arg(const std::shared_ptr<stage_probe>& probe,
               std::vector<sender<T>>& xs, const control_channels& control) {
  for (auto& x : xs)
    attach_port(probe, x, false, control);
}

} // namespace detail

} // namespace actorflow
