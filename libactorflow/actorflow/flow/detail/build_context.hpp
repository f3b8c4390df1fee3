// This file is part of actorflow. See README.md for the project's license.

#pragma once

// What building and running a pipeline share: `build_context` (what a build
// spawns and the first mistake it finds), `run_state` (what the stages of a
// run share until the last one ended), and the small pieces around them.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include "actorflow/channel.hpp"
#include "actorflow/detail/export.hpp"
#include "actorflow/flow/options.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/stats.hpp"
#include "actorflow/worker.hpp"

namespace actorflow::detail {

/// What the workers of one pipeline run share: how many still run, the
/// first error, and who waits for the end.
struct ACTORFLOW_EXPORT run_state {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<worker> workers;
  size_t running = 0;
  bool built = false;
  bool finished = false;
  bool cancelled = false;
  caf::error first;
  std::function<void()> on_finished;
  /// The statistics of the run's stages.
  std::shared_ptr<pipeline_monitor> monitor = nullptr;
  /// The channels between the run's stages: a cancelled or failed run marks
  /// them stopping before it stops its stages, so that what they still hold
  /// counts as cancelled, not lost.
  std::vector<std::shared_ptr<channel_stats>> channels;

  /// A worker ended. The first error cancels every other worker, so that a
  /// failing stage ends the whole pipeline (an endless source too).
  void worker_done(const caf::error& err);

  /// Every stage is spawned.
  void mark_built();

  /// Stops every stage; `why` becomes the pipeline's error unless it failed
  /// already.
  void cancel(caf::error why);

  /// Blocks until every worker ended.
  void wait();

private:
  /// Called with `mtx` held; returns what to call after unlocking.
  std::function<void()> check_finished();

  /// Marks the run cancelled and its channels stopping (with `mtx` held).
  void stop();
};

/// What building a pipeline collects: the workers it spawned (in data-path
/// order, source first) and the first error found while building.
struct build_context {
  build_context(caf::actor_system& sys, run_options opts)
    : sys(sys), opts(opts), state(std::make_shared<run_state>()) {
    if (!this->opts.monitor)
      this->opts.monitor = std::make_shared<pipeline_monitor>();
    this->opts.monitor->start_over();
    state->monitor = this->opts.monitor;
  }

  caf::actor_system& sys;
  run_options opts;
  std::shared_ptr<run_state> state;
  caf::error error;
  size_t stages = 0;
  /// Channels that carry control items (see `mark_control`).
  control_channels control;

  /// Marks `ch` as a control channel: its items do not count as the items
  /// of the stages at its ends, and waiting on it counts as stalled.
  template <class T>
  void mark_control(const channel_pair<T>& ch) {
    control.push_back(ch.tx.channel_stats_ptr().get());
  }

  /// Names a stage for errors: "then#2" is the pipeline's second stage.
  std::string stage_name(const char* op) {
    return std::string{op} + "#" + std::to_string(++stages);
  }

  /// Automatic channel capacity (see `run_options::capacity`): this many
  /// bytes of items, at least `min_auto_capacity` and at most
  /// `max_auto_capacity` items.
  static constexpr size_t auto_capacity_bytes = 64 * 1024;
  static constexpr size_t min_auto_capacity = 1024;
  static constexpr size_t max_auto_capacity = 16384;

  /// The pipeline's capacity as set in `run_options`, or the smallest
  /// automatic capacity when that is automatic (the parallel stages' windows
  /// scale with it).
  size_t base_capacity() const noexcept {
    return opts.capacity.value_or(min_auto_capacity);
  }

  /// The default capacity of a channel of `T` (see `run_options::capacity`).
  template <class T>
  size_t capacity_for() const noexcept {
    if (opts.capacity)
      return *opts.capacity;
    return std::clamp<size_t>(auto_capacity_bytes / sizeof(T),
                              min_auto_capacity, max_auto_capacity);
  }

  template <class T>
  std::optional<channel_pair<T>> make_channel(
    const stage_options& so, std::chrono::nanoseconds read_ahead_time = {}) {
    auto cap = so.capacity != 0 ? so.capacity : capacity_for<T>();
    auto bat = so.batch != 0 ? so.batch : opts.batch; // 0: capacity / 4
    channel_options co;
    co.batch = bat;
    co.read_ahead = so.read_ahead;
    co.read_ahead_time = read_ahead_time;
    co.linger = so.linger != so.linger.zero() ? so.linger : opts.linger;
    auto ch = channel<T>(sys, cap, co);
    if (!ch) {
      if (!error)
        error = ch.error();
      return std::nullopt;
    }
    {
      std::lock_guard guard{state->mtx};
      state->channels.push_back(ch->tx.channel_stats_ptr());
      if (state->cancelled)
        ch->tx.channel_stats_ptr()->stopping = true;
    }
    return std::move(*ch);
  }

  template <class F, class... Ts>
  void spawn(std::string name, F f, Ts&&... xs) {
    {
      std::lock_guard guard{state->mtx};
      ++state->running;
    }
    worker_options wo;
    wo.probe = state->monitor->add_stage(name);
    wo.clock = opts.clock;
    wo.name = std::move(name);
    wo.on_exit = [st = state](const caf::error& err) {
      st->worker_done(err);
    };
    // The stage's actor gets exactly these handles (moved, not copied), so
    // their endpoints can count the stage's items and name its channels.
    std::tuple<std::decay_t<Ts>...> args{std::forward<Ts>(xs)...};
    std::apply([&](auto&... ys) { (probe_arg(wo.probe, ys, control), ...); },
               args);
    auto w = std::apply(
      [&](auto&... ys) {
        return spawn_worker(sys, std::move(wo), std::move(f), std::move(ys)...);
      },
      args);
    bool cancel_now = false;
    {
      std::lock_guard guard{state->mtx};
      state->workers.push_back(w);
      cancel_now = state->cancelled;
    }
    if (cancel_now)
      w.cancel();
  }
};

/// Rejects settings that do not apply to the stage `op` (concurrency,
/// workers and window outside `then` and the parallel stages).
ACTORFLOW_EXPORT caf::error check_options(const char* op,
                                          const stage_options& so);

/// Builds the part of a pipeline upstream of `out`: spawns its stages and
/// connects the last one to `out`.
template <class T>
using build_fn = std::function<void(build_context&, sender<T>)>;

/// The result of a run, computed once from the sink's state and then kept,
/// so that `running::notify` and `running::wait` both see it.
template <class R>
class result_cell {
public:
  explicit result_cell(std::function<R()> get) : get_(std::move(get)) {
    // nop
  }

  /// A copy of the result.
  R get() {
    std::lock_guard guard{mtx_};
    fill();
    return *value_;
  }

  /// Moves the result out if the caller holds the only reference to this
  /// cell (nobody else can ask for it any more); copies it otherwise.
  static R take(std::shared_ptr<result_cell>& self) {
    std::lock_guard guard{self->mtx_};
    self->fill();
    if (self.use_count() == 1)
      return std::move(*self->value_);
    return *self->value_;
  }

private:
  void fill() {
    if (!value_) {
      value_.emplace(get_());
      get_ = nullptr;
    }
  }

  std::mutex mtx_;
  std::function<R()> get_;
  std::optional<R> value_;
};

/// Tells on stderr that a pipeline was destroyed without being run.
ACTORFLOW_EXPORT void report_unrun_pipeline() noexcept;

/// Armed while a pipeline still has to be run: reports on destruction (or on
/// being assigned over) if it was never run. Moving disarms the source.
class run_guard {
public:
  run_guard() noexcept = default;

  explicit run_guard(bool armed) noexcept : armed_(armed) {
    // nop
  }

  run_guard(const run_guard&) noexcept = default;

  run_guard(run_guard&& other) noexcept
    : armed_(std::exchange(other.armed_, false)) {
    // nop
  }

  run_guard& operator=(const run_guard& other) noexcept {
    if (this != &other) {
      if (armed_)
        report_unrun_pipeline();
      armed_ = other.armed_;
    }
    return *this;
  }

  run_guard& operator=(run_guard&& other) noexcept {
    if (this != &other) {
      if (armed_)
        report_unrun_pipeline();
      armed_ = std::exchange(other.armed_, false);
    }
    return *this;
  }

  ~run_guard() {
    if (armed_)
      report_unrun_pipeline();
  }

  void disarm() noexcept {
    armed_ = false;
  }

private:
  bool armed_ = false;
};

/// The worker count of a parallel stage (`parallel_then`, `route_by_key`):
/// `n` if given, else `so.workers`, else one per scheduler thread. Settled
/// when the pipeline starts, since the scheduler belongs to the run's system.
ACTORFLOW_EXPORT size_t worker_count(std::optional<size_t> n,
                                     const stage_options& so,
                                     const build_context& ctx);

} // namespace actorflow::detail
