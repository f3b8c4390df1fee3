// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/unit.hpp>

#include <thread>

#include <condition_variable>
#include <mutex>

#include "actorflow/channel.hpp"
#include "actorflow/flow/detail/apply.hpp"
#include "actorflow/flow/detail/stage_loops.hpp"
#include "actorflow/error.hpp"
#include "actorflow/error_policy.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/stats.hpp"
#include "actorflow/task.hpp"
#include "actorflow/worker.hpp"

namespace actorflow {

/// Per-stage settings. Zero means "the pipeline's default".
///
/// ~~~
/// src.then(fetch, {.on_error = actorflow::error_policy::retry(2),
///                  .on_failure = [&](const actorflow::item_failure& x) {
///                    ++failures; // or log x.index, x.what, x.action
///                  }});
/// ~~~
struct stage_options {
  /// Capacity of the channel into this stage (items in flight).
  size_t capacity = 0;
  /// Most items per message on that channel.
  uint32_t batch = 0;
  /// How many items the stage asks for ahead of its work (its receiver's
  /// read-ahead); 0 picks two batches, at most half the capacity. For
  /// `parallel_then` and `route_by_key`: the read-ahead of each worker
  /// (`parallel_then`'s default adapts to about 1 ms of the worker's
  /// measured work). Independent of `concurrency`.
  uint32_t read_ahead = 0;
  /// How many calls of a coroutine `f` (returning `task<U>`) one stage actor
  /// keeps in flight: `then` (and every worker of `parallel_then`,
  /// `parallel_then_unordered` and `route_by_key`) starts the next call
  /// while earlier ones wait (e.g. for `actorflow::ask`) and still emits
  /// the results in input order. 0 or 1: one call at a time.
  size_t concurrency = 0;
  /// Worker actors of `parallel_then`, `parallel_then_unordered` and
  /// `route_by_key` called without `n`; 0 picks the scheduler's thread count.
  size_t workers = 0;
  /// Most items between dispatch and gather of `parallel_then` (bounds its
  /// reorder buffer); 0 picks four times the pipeline's capacity
  /// (`run_options::capacity`, 4096 items when that is unset), at least
  /// 64 per worker.
  size_t window = 0;
  /// What the stage does when its function fails on an item (throws, or
  /// returns a `caf::expected` holding an error): end the pipeline (the
  /// default), drop the item, or call the function again.
  error_policy on_error = error_policy::fail();
  /// Called on every failed call of the stage's function, before the stage
  /// acts on it (retry, skip or fail). Runs in the stage's actor: keep it
  /// short, non-blocking and free of exceptions; the workers of a parallel
  /// stage call (copies of) it concurrently.
  std::function<void(const item_failure&)> on_failure = nullptr;
};

/// Settings of a whole pipeline run.
struct run_options {
  /// Default capacity of every channel between two stages (0 is an
  /// error). Unset (the default), each channel is sized by its item type:
  /// 64 KiB of items by `sizeof(T)`, at least 1024 and at most 16384 items
  /// (16384 `int`s, 1024 items of 64 bytes or more). Small items then
  /// travel in large batches, which is what makes a cheap stage cheap:
  /// every batch costs a few messages.
  std::optional<size_t> capacity;
  /// Default batch size (0: a quarter of the channel's capacity, so that
  /// four batches are in flight on every channel).
  uint32_t batch = 0;
  /// Where the run records its statistics (see stats.hpp); null: a monitor
  /// of its own, read through `running<R>::stats()`. Set it to read the
  /// statistics of a blocking `run`, during the run (from another thread)
  /// or after it returned:
  ///
  /// ~~~
  /// actorflow::run_options opts;
  /// opts.monitor = std::make_shared<actorflow::pipeline_monitor>();
  /// auto r = actorflow::iota(0, 100).then(f).collect().run(sys, opts);
  /// std::cout << actorflow::to_string(opts.monitor->stats());
  /// ~~~
  std::shared_ptr<pipeline_monitor> monitor = nullptr;
};

namespace detail {

/// What building a pipeline collects: the workers it spawned (in data-path
/// order, source first) and the first error found while building.
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

} // namespace detail

template <class T>
class flow;

template <class R>
class pipeline;

struct actor_sink_options;

/// Sent to the actor given to `running::notify` when a pipeline ends: with
/// the result, or with the error.
using done_atom = caf::atom_constant<caf::atom("af_done")>;

/// A started pipeline. Copyable; every copy refers to the same run.
///
/// ~~~
/// auto run = actorflow::iota(0, 1000).then(f).collect().start(sys);
/// run.notify(self); // self gets (done_atom, std::vector<int>) or
///                   //           (done_atom, caf::error)
/// ~~~
template <class R>
class running {
public:
  /// @private
  explicit running(caf::error err) : error_(std::move(err)) {
    // nop
  }

  /// @private
  running(std::shared_ptr<detail::run_state> st, std::function<R()> result)
    : state_(std::move(st)),
      result_(std::make_shared<detail::result_cell<R>>(std::move(result))) {
    // nop
  }

  /// @private Runs `runner` on a thread of its own.
  static running detached(
    caf::actor_system& sys,
    std::function<caf::expected<R>(caf::actor_system&, run_options)> runner,
    run_options opts) {
    auto out = std::make_shared<std::optional<caf::expected<R>>>();
    auto st = std::make_shared<detail::run_state>();
    if (!opts.monitor)
      opts.monitor = std::make_shared<pipeline_monitor>();
    st->monitor = opts.monitor;
    {
      std::lock_guard guard{st->mtx};
      ++st->running;
    }
    st->mark_built();
    std::thread{[&sys, runner = std::move(runner), opts, out, st] {
      *out = runner(sys, opts);
      auto& res = **out;
      st->worker_done(res ? caf::error{} : res.error());
    }}.detach();
    std::function<R()> get = [out]() -> R {
      auto& res = **out;
      if constexpr (std::is_same_v<R, caf::unit_t>)
        return caf::unit; // caf::expected<unit_t> holds no value
      else
        return std::move(*res);
    };
    return running{st, std::move(get)};
  }

  /// Blocks until the pipeline ended; returns its result or first error.
  /// Never call this inside a worker. Can be called again, also after
  /// `notify` delivered the result (each call returns a copy).
  caf::expected<R> wait() & {
    if (error_)
      return error_;
    state_->wait();
    if (state_->first)
      return state_->first;
    return result_->get();
  }

  /// Like `wait() &`, but moves the result out when this is the last handle
  /// to the run (as in `p.start(sys).wait()`).
  caf::expected<R> wait() && {
    if (error_)
      return error_;
    state_->wait();
    if (state_->first)
      return state_->first;
    return detail::result_cell<R>::take(result_);
  }

  /// True once every stage ended.
  bool done() const {
    if (!state_)
      return true;
    std::lock_guard guard{state_->mtx};
    return state_->finished;
  }

  /// The statistics of every stage so far: live while the pipeline runs,
  /// final once `done()`. Safe from any thread (see stats.hpp).
  ///
  /// ~~~
  /// auto run = actorflow::iota(0, 1000).then(f).for_each(g).start(sys);
  /// run.wait();
  /// std::cout << actorflow::to_string(run.stats()) << run.to_dot();
  /// ~~~
  pipeline_stats stats() const {
    return state_ && state_->monitor ? state_->monitor->stats()
                                     : pipeline_stats{};
  }

  /// Same as `stats().to_dot()`: the pipeline as a Graphviz digraph.
  std::string to_dot() const {
    return stats().to_dot();
  }

  /// Stops the source and every stage; `wait` then yields
  /// `error_code::cancelled` (unless the pipeline failed before).
  void cancel() {
    if (state_)
      state_->cancel(make_error(error_code::cancelled, "pipeline cancelled"));
  }

  /// Sends `(done_atom, R)` or `(done_atom, caf::error)` to `whom` when the
  /// pipeline ended (at once if it did already). Every call adds one more
  /// notification; `wait` still returns the result afterwards.
  void notify(caf::actor whom) {
    if (!state_) {
      caf::anon_send(whom, done_atom::value, error_);
      return;
    }
    auto deliver = [st = state_, res = result_, whom] {
      if (st->first)
        caf::anon_send(whom, done_atom::value, st->first);
      else
        caf::anon_send(whom, done_atom::value, res->get());
    };
    std::unique_lock guard{state_->mtx};
    if (state_->finished) {
      guard.unlock();
      deliver();
    } else if (auto prev = std::move(state_->on_finished)) {
      state_->on_finished = [prev = std::move(prev),
                             deliver = std::move(deliver)] {
        prev();
        deliver();
      };
    } else {
      state_->on_finished = std::move(deliver);
    }
  }

private:
  caf::error error_;
  std::shared_ptr<detail::run_state> state_;
  std::shared_ptr<detail::result_cell<R>> result_;
};

/// A runnable pipeline that produces an `R` (`caf::unit_t` for `for_each`).
/// Nothing happens until `run` or `start`: a pipeline destroyed (or assigned
/// over) without either prints a warning to stderr, since it would otherwise
/// do nothing, silently.
///
/// ~~~
/// auto sum = actorflow::iota(0, 100).then([](int x) { return x + 1; })
///              .fold(0L, [](long acc, int x) { return acc + x; })
///              .run(sys); // caf::expected<long>
/// ~~~
template <class R>
class [[nodiscard]] pipeline {
public:
  /// What `run` returns on success (`caf::unit_t` for a plain sink).
  using result_type = R;

  /// @private
  using start_fn = std::function<std::function<R()>(detail::build_context&)>;

  pipeline() = default;

  /// @private
  pipeline(start_fn start, caf::error err)
    : start_(std::move(start)), err_(std::move(err)), guard_(true) {
    // nop
  }

  /// Spawns every stage and returns at once with a handle to the running
  /// pipeline. Usable from inside an actor: `notify` delivers the outcome
  /// as a message, `cancel` stops it.
  running<R> start(caf::actor_system& sys, run_options opts = {}) && {
    guard_.disarm();
    if (runner_) {
      // A pipeline derived from another one (e.g. reduce): run it on a
      // thread of its own so that start never blocks.
      auto runner = std::exchange(runner_, nullptr);
      return running<R>::detached(sys, std::move(runner), opts);
    }
    if (err_)
      return running<R>{err_};
    if (!start_)
      return running<R>{make_error(error_code::invalid_argument,
                                   "pipeline started twice, or after it was "
                                   "moved from")};
    auto start = std::exchange(start_, nullptr);
    detail::build_context ctx{sys, opts};
    auto result = start(ctx);
    if (ctx.error)
      ctx.state->cancel(ctx.error);
    ctx.state->mark_built();
    return running<R>{ctx.state, std::move(result)};
  }

  /// Spawns every stage, waits for the pipeline to finish (blocking the
  /// calling thread) and returns its result, or the first error: a stage's
  /// exception (naming the stage and the item's index), or a mistake in how
  /// the pipeline was built. Never call this inside a worker.
  caf::expected<R> run(caf::actor_system& sys, run_options opts = {}) && {
    guard_.disarm();
    if (runner_)
      return std::exchange(runner_, nullptr)(sys, opts);
    return std::move(*this).start(sys, opts).wait();
  }

  /// @private Runs `inner` and maps its result with `g(R2&&) ->
  /// caf::expected<R>`.
  template <class R2, class G>
  static pipeline map_from(pipeline<R2> inner, G g) {
    auto holder = std::make_shared<pipeline<R2>>(std::move(inner));
    holder->guard_.disarm(); // the outer pipeline reports if never run
    pipeline result;
    result.guard_ = detail::run_guard{true};
    result.runner_ = [holder, g](caf::actor_system& sys, run_options opts) {
      auto r = std::move(*holder).run(sys, opts);
      if (!r)
        return caf::expected<R>{r.error()};
      return g(std::move(*r));
    };
    return result;
  }

  /// @private Hands out what builds this pipeline (it is consumed), for
  /// embedding it in another pipeline's build (`tee`).
  std::pair<start_fn, caf::error> release() && {
    guard_.disarm();
    if (runner_)
      return {nullptr,
              make_error(error_code::invalid_argument,
                         "a pipeline derived from another one (reduce) "
                         "cannot be embedded in another pipeline")};
    if (err_)
      return {nullptr, err_};
    if (!start_)
      return {nullptr, make_error(error_code::invalid_argument,
                                  "a pipeline was embedded after it was run "
                                  "or moved from")};
    return {std::exchange(start_, nullptr), caf::error{}};
  }

private:
  template <class>
  friend class pipeline;

  start_fn start_;
  caf::error err_;
  std::function<caf::expected<R>(caf::actor_system&, run_options)> runner_;
  detail::run_guard guard_;
};

/// A description of a stream of `T`: a source and the stages after it. Each
/// stage becomes an actor when the pipeline runs; every link is a bounded
/// credit channel. Builders are values: operators consume the builder they
/// are called on (`std::move` it to keep chaining a named one).
///
/// ~~~
/// actorflow::repeat(7).take(10)
///   .then([](int n) { return n + 1; })
///   .then([](int n) { return n * 2; })
///   .for_each([](int n) { std::cout << n << '\n'; })
///   .run(sys);
/// ~~~
template <class T>
class [[nodiscard]] flow {
public:
  /// The type of the items this flow emits.
  using value_type = T;

  flow() = default;

  /// @private
  explicit flow(detail::build_fn<T> build, caf::error err = {})
    : build_(std::move(build)), err_(std::move(err)) {
    // nop
  }

  // -- stages ----------------------------------------------------------------

  /// One stage actor applying `f` to every item. `f` is `T -> U`, or a
  /// coroutine `T -> task<U>` that may `co_await` (e.g. `actorflow::ask` of
  /// another actor) without blocking a scheduler thread; `U` may be a
  /// `caf::expected` (an error counts as a failure, see `error_policy`).
  /// With `{.concurrency = k}`, up to `k` calls of a coroutine `f` are in
  /// flight at once; results still leave in input order.
  ///
  /// ~~~
  /// src.then([pricer](int id) -> actorflow::task<double> {
  ///   auto p = co_await actorflow::ask<double>(pricer, 1s, id);
  ///   co_return p ? *p : 0.0;
  /// }, {.concurrency = 8});
  /// ~~~
  template <class F>
  auto then(F f, stage_options so = {}) && {
    constexpr bool invocable = std::is_invocable_v<F&, T&&>;
    static_assert(invocable,
                  "then(f): f must be callable with the stream's item type "
                  "T (by value or const reference)");
    using raw = typename detail::body_result<invocable, F, T>::type;
    constexpr bool foreign = detail::is_foreign_awaitable<raw>::value;
    static_assert(!foreign,
                  "then(f): f returns an awaitable that is not "
                  "actorflow::task<U>; make f a coroutine returning task<U> "
                  "that co_awaits it");
    using U = typename detail::stage_value<raw>::type;
    static_assert(!std::is_void_v<U>,
                  "then(f): f must return a value (use for_each or inspect "
                  "for side effects only)");
    if constexpr (!invocable || foreign || std::is_void_v<U>) {
      return flow<T>{}; // not reached: a static_assert above failed
    } else {
      if (so.concurrency > 1 && !detail::is_task<raw>::value)
        return flow<U>{nullptr,
                       make_error(error_code::invalid_argument,
                                  "then(f): concurrency > 1 needs a coroutine "
                                  "f returning task<U> (a synchronous f "
                                  "runs one call at a time; use "
                                  "parallel_then)")};
      auto channel_so = so;
      channel_so.concurrency = 0; // handled here, not by stage()
      return std::move(*this).template stage<U>(
        "then", std::move(channel_so),
        [f = std::move(f), so](receiver<T> in, sender<U> out) mutable
        -> task<> { co_await detail::map_items(so, f, in, out); });
    }
  }

  /// Keeps the items for which `pred` returns true.
  template <class F>
  flow<T> filter(F pred, stage_options so = {}) && {
    constexpr bool callable = std::is_invocable_v<F&, const T&>;
    static_assert(callable, "filter(pred): pred must be callable with const "
                            "T& (T: the stream's item type)");
    constexpr bool ok = std::is_invocable_r_v<bool, F&, const T&>;
    static_assert(!callable || ok,
                  "filter(pred): pred must be callable with const T& and "
                  "return something convertible to bool");
    if constexpr (!ok)
      return flow<T>{}; // not reached: a static_assert above failed
    else
      return std::move(*this).template stage<T>(
        "filter", so,
        [pred = std::move(pred), so](receiver<T> in,
                                     sender<T> out) mutable -> task<> {
          size_t index = 0;
          auto step = [&](T&& x) {
            auto keep = detail::apply_at(so, index++, pred, std::as_const(x));
            return keep && static_cast<bool>(*keep)
                     ? std::optional<T>{std::move(x)}
                     : std::optional<T>{};
          };
          co_await detail::map_stage(in, out, step);
        });
  }

  /// Calls `f` on every item and passes it on unchanged.
  template <class F>
  flow<T> inspect(F f, stage_options so = {}) && {
    constexpr bool callable = std::is_invocable_v<F&, const T&>;
    static_assert(callable, "inspect(f): f must be callable with const T&");
    using raw = typename detail::body_result<callable, F, const T>::type;
    constexpr bool ok = callable && !detail::is_task<raw>::value;
    static_assert(!callable || ok,
                  "inspect(f): f must be synchronous (a coroutine returning "
                  "task<U> is for then, parallel_then and route_by_key)");
    if constexpr (!ok)
      return flow<T>{}; // not reached: a static_assert above failed
    else
      return std::move(*this).template stage<T>(
        "inspect", so,
        [f = std::move(f), so](receiver<T> in,
                               sender<T> out) mutable -> task<> {
          size_t index = 0;
          auto step = [&](T&& x) {
            auto seen = detail::apply_at(so, index++, f, std::as_const(x));
            return seen ? std::optional<T>{std::move(x)} : std::optional<T>{};
          };
          co_await detail::map_stage(in, out, step);
        });
  }

  /// Passes on the first `k` items, then ends the stream (which stops the
  /// stages upstream, since their sends fail).
  flow<T> take(size_t k, stage_options so = {}) && {
    return std::move(*this).template stage<T>(
      "take", so, [k](receiver<T> in, sender<T> out) -> task<> {
        for (size_t n = 0; n < k; ++n) {
          auto x = co_await in.recv();
          if (!x || !co_await out.send(std::move(*x)))
            co_return;
        }
      });
  }

  /// Passes on items while `pred` holds; ends the stream at the first item
  /// for which it does not (that item is dropped).
  template <class F>
  flow<T> take_while(F pred, stage_options so = {}) && {
    constexpr bool callable = std::is_invocable_v<F&, const T&>;
    static_assert(callable, "take_while(pred): pred must be callable with "
                            "const T& (T: the stream's item type)");
    constexpr bool ok = std::is_invocable_r_v<bool, F&, const T&>;
    static_assert(!callable || ok,
                  "take_while(pred): pred must be callable with const T& "
                  "and return something convertible to bool");
    if constexpr (!ok)
      return flow<T>{}; // not reached: a static_assert above failed
    else
      return std::move(*this).template stage<T>(
        "take_while", so,
        [pred = std::move(pred), so](receiver<T> in,
                                     sender<T> out) mutable -> task<> {
          size_t index = 0;
          while (auto x = co_await in.recv()) {
            auto keep = detail::apply_at(so, index++, pred, std::as_const(*x));
            if (!keep)
              continue; // skipped
            if (!static_cast<bool>(*keep) || !co_await out.send(std::move(*x)))
              co_return;
          }
        });
  }

  /// Pairs every item with its index: (0, x0), (1, x1), ...
  flow<std::pair<uint64_t, T>> enumerate(stage_options so = {}) && {
    using U = std::pair<uint64_t, T>;
    return std::move(*this).template stage<U>(
      "enumerate", so, [](receiver<T> in, sender<U> out) -> task<> {
        for (uint64_t i = 0;; ++i) {
          auto x = co_await in.recv();
          if (!x || !co_await out.send(U{i, std::move(*x)}))
            co_return;
        }
      });
  }

  /// `f` maps every item to a range; its elements follow one by one.
  template <class F>
  auto flat_map(F f, stage_options so = {}) && {
    constexpr bool invocable = std::is_invocable_v<F&, T&&>;
    static_assert(invocable,
                  "flat_map(f): f must be callable with the stream's item "
                  "type T and return a range");
    using raw = typename detail::body_result<invocable, F, T>::type;
    constexpr bool sync = !detail::is_task<raw>::value;
    static_assert(!invocable || sync,
                  "flat_map(f): f must be synchronous (a coroutine returning "
                  "task<U> is for then, parallel_then and route_by_key)");
    using range = typename detail::stage_value<raw>::type;
    constexpr bool is_range = detail::is_range<range>::value;
    static_assert(!invocable || !sync || is_range,
                  "flat_map(f): f must return a range (a container, or "
                  "anything std::begin and std::end accept)");
    if constexpr (!invocable || !sync || !is_range) {
      return flow<T>{}; // not reached: a static_assert above failed
    } else {
      using U = std::decay_t<decltype(*std::begin(std::declval<range&>()))>;
      return std::move(*this).template stage<U>(
        "flat_map", so,
        [f = std::move(f), so](receiver<T> in,
                               sender<U> out) mutable -> task<> {
          size_t index = 0;
          while (auto x = co_await in.recv()) {
            auto ys = detail::apply_at(so, index++, f, std::move(*x));
            if (!ys)
              continue;
            for (auto& y : *ys)
              if (!co_await out.send(U(std::move(y))))
                co_return;
          }
        });
    }
  }

  /// Groups items into vectors of `k` (the last one may be shorter).
  /// `batch(0)` is an error.
  flow<std::vector<T>> batch(size_t k, stage_options so = {}) && {
    using U = std::vector<T>;
    if (k == 0)
      return flow<U>{nullptr,
                     make_error(error_code::invalid_argument,
                                "batch(0): a batch holds at least one item")};
    return std::move(*this).template stage<U>(
      "batch", so, [k](receiver<T> in, sender<U> out) -> task<> {
        U buf;
        buf.reserve(k);
        while (auto x = co_await in.recv()) {
          buf.push_back(std::move(*x));
          if (buf.size() == k) {
            if (!co_await out.send(std::exchange(buf, U{})))
              co_return;
            buf.reserve(k);
          }
        }
        if (!buf.empty())
          (void)co_await out.send(std::move(buf));
      });
  }

  /// The inverse of `batch`: the elements of each item (a range), in order.
  auto unbatch(stage_options so = {}) && {
    return std::move(*this).flat_map([](T xs) { return xs; }, so);
  }

  /// `n` worker actors apply `f` to the items in parallel; a gather actor
  /// restores the input order. Dispatch is demand-driven, and at most
  /// `so.window` items (default: four times the pipeline's channel
  /// capacity, at least 64 per worker) are between the dispatcher
  /// and the gather at any time, so the gather's reorder buffer is bounded
  /// even when one item is slow: dispatch then holds back. Each worker
  /// reads `so.read_ahead` items ahead (default: about 1 ms of
  /// its measured work) and, for a coroutine
  /// `f`, has up to `so.concurrency` calls in flight. `n == 0` is an error.
  ///
  /// ~~~
  /// src.parallel_then(4, parse, {.window = 1024, .read_ahead = 32});
  /// ~~~
  template <class F>
  auto parallel_then(size_t n, F f, stage_options so = {}) && {
    return std::move(*this).template scatter_gather<true>(n, std::move(f),
                                                          std::move(so));
  }

  /// `parallel_then(n, f, {.window = window})`.
  template <class F>
  auto parallel_then(size_t n, F f, size_t window) && {
    stage_options so;
    so.window = window;
    return std::move(*this).template scatter_gather<true>(n, std::move(f),
                                                          std::move(so));
  }

  /// `parallel_then` with `so.workers` workers, by default one per thread
  /// of the actor system's scheduler.
  template <class F>
  auto parallel_then(F f, stage_options so = {}) && {
    return std::move(*this).template scatter_gather<true>(
      std::nullopt, std::move(f), std::move(so));
  }

  /// Like `parallel_then`, but items leave in completion order.
  template <class F>
  auto parallel_then_unordered(size_t n, F f, stage_options so = {}) && {
    return std::move(*this).template scatter_gather<false>(n, std::move(f),
                                                           std::move(so));
  }

  /// `parallel_then_unordered(n, f, {.window = window})`.
  template <class F>
  auto parallel_then_unordered(size_t n, F f, size_t window) && {
    stage_options so;
    so.window = window;
    return std::move(*this).template scatter_gather<false>(n, std::move(f),
                                                           std::move(so));
  }

  /// `parallel_then_unordered` with `so.workers` workers, by default one per
  /// thread of the actor system's scheduler.
  template <class F>
  auto parallel_then_unordered(F f, stage_options so = {}) && {
    return std::move(*this).template scatter_gather<false>(
      std::nullopt, std::move(f), std::move(so));
  }

  // -- sinks -----------------------------------------------------------------

  /// Calls `f` on every item in a sink actor.
  template <class F>
  pipeline<caf::unit_t> for_each(F f, stage_options so = {}) && {
    constexpr bool ok = std::is_invocable_v<F&, T&&>;
    static_assert(ok, "for_each(f): f must be callable with the stream's "
                      "item type T");
    if constexpr (!ok) {
      return pipeline<caf::unit_t>{}; // not reached: the static_assert failed
    } else {
      auto g = [f = std::move(f)](caf::unit_t& acc, T&& x) mutable {
        f(std::move(x));
        return acc;
      };
      return std::move(*this).fold(caf::unit, std::move(g), so);
    }
  }

  /// Folds the stream into `init` with `f(acc, item) -> acc`.
  template <class Acc, class F>
  pipeline<Acc> fold(Acc init, F f, stage_options so = {}) && {
    constexpr bool ok = std::is_invocable_r_v<Acc, F&, Acc&, T&&>;
    static_assert(ok, "fold(init, f): f must be callable as f(Acc&, T) and "
                      "return the new Acc");
    if constexpr (!ok)
      return pipeline<Acc>{}; // not reached: the static_assert failed
    else
      return std::move(*this).template sink<Acc>(
        "sink", so, std::move(init),
        [f = std::move(f), so](std::shared_ptr<Acc> acc,
                               receiver<T> in) mutable -> task<> {
          size_t index = 0;
          auto step = [&](T&& x) {
            if (auto next = detail::apply_at(so, index++, f, *acc,
                                             std::move(x)))
              *acc = std::move(*next);
          };
          for (;;) {
            if (detail::drain_ready(in, step) > 0)
              continue;
            auto x = co_await in.recv();
            if (!x)
              co_return;
            step(std::move(*x));
          }
        });
  }

  /// Folds with the first item as the initial value; an empty stream yields
  /// `error_code::invalid_argument` ("reduce of an empty stream").
  template <class F>
  pipeline<T> reduce(F f, stage_options so = {}) && {
    constexpr bool ok = std::is_invocable_r_v<T, F&, T&, T&&>;
    static_assert(ok, "reduce(f): f must be callable as f(T&, T) and return T");
    if constexpr (!ok) {
      return pipeline<T>{}; // not reached: the static_assert failed
    } else {
      using acc_t = std::optional<T>;
      auto inner = std::move(*this).fold(
        acc_t{},
        [f = std::move(f)](acc_t& acc, T&& x) mutable {
          if (!acc)
            acc.emplace(std::move(x));
          else
            acc.emplace(f(*acc, std::move(x)));
          return std::move(acc);
        },
        so);
      return pipeline<T>::map_from(std::move(inner), [](acc_t&& acc) {
        if (!acc)
          return caf::expected<T>{make_error(error_code::invalid_argument,
                                             "reduce of an empty stream")};
        return caf::expected<T>{std::move(*acc)};
      });
    }
  }

  /// `n` worker actors call `f` on the items (in no particular order): the
  /// parallel sink.
  template <class F>
  pipeline<caf::unit_t> parallel_for_each(size_t n, F f) && {
    constexpr bool ok = std::is_invocable_v<F&, T&&>;
    static_assert(ok, "parallel_for_each(n, f): f must be callable with the "
                      "stream's item type T");
    if constexpr (!ok)
      return pipeline<caf::unit_t>{}; // not reached: the static_assert failed
    else
      return std::move(*this)
        .parallel_then_unordered(n,
                                 [f = std::move(f)](T&& x) mutable {
                                   f(std::move(x));
                                   return uint8_t{0};
                                 })
        .for_each([](uint8_t) {});
  }

  /// Collects every item into a vector, in stream order.
  pipeline<std::vector<T>> collect(stage_options so = {}) && {
    return std::move(*this).fold(
      std::vector<T>{},
      [](std::vector<T>& xs, T&& x) {
        xs.push_back(std::move(x));
        return std::move(xs);
      },
      so);
  }

  /// Sends every item into `out` (an existing channel); the pipeline ends
  /// when the stream ends or every receiver of `out` is gone.
  pipeline<caf::unit_t> to(sender<T> out, stage_options so = {}) && {
    auto holder = std::make_shared<std::optional<sender<T>>>(std::move(out));
    return std::move(*this).template sink<caf::unit_t>(
      "to", so, caf::unit,
      [holder](std::shared_ptr<caf::unit_t>, receiver<T> in) -> task<> {
        if (!*holder)
          throw std::logic_error("to(sender): a pipeline into a sender can "
                                 "run once");
        auto out = std::move(**holder);
        holder->reset();
        while (auto x = co_await in.recv())
          if (!co_await out.send(std::move(*x)))
            co_return;
      });
  }

  /// Sends the items in batches to an existing actor, with a bounded number
  /// of batches unacknowledged (see actorflow/flow/actor_io.hpp).
  pipeline<caf::unit_t> to_actor(caf::actor consumer) &&;

  /// Like `to_actor(consumer)`, with settings.
  pipeline<caf::unit_t> to_actor(caf::actor consumer,
                                 actor_sink_options opts) &&;

  /// Every item also goes to a branch: `branch(flow<T>)` returns the branch's
  /// pipeline (see actorflow/flow/tee.hpp).
  template <class F>
  flow<T> tee(F branch) &&;

  /// @private Ends the flow in a sink actor running `body(acc, in)`.
  template <class Acc, class Body>
  pipeline<Acc> sink(const char* op, stage_options so, Acc init, Body body) && {
    using start_fn = typename pipeline<Acc>::start_fn;
    if (err_ || !build_)
      return pipeline<Acc>{nullptr, moved_or(err_)};
    if (auto err = detail::check_options(op, so))
      return pipeline<Acc>{nullptr, std::move(err)};
    auto build = std::move(build_);
    start_fn start = [build = std::move(build), init = std::move(init), op,
                      body = std::move(body),
                      so](detail::build_context& ctx) -> std::function<Acc()> {
      auto acc = std::make_shared<Acc>(init);
      if (auto ch = ctx.make_channel<T>(so)) {
        build(ctx, std::move(ch->tx));
        ctx.spawn(ctx.stage_name(op), body, acc, std::move(ch->rx));
      }
      return [acc] {
        return std::move(*acc);
      };
    };
    return pipeline<Acc>{std::move(start), {}};
  }

  // -- plumbing --------------------------------------------------------------

  /// @private Appends a stage actor running `body(in, out)`.
  template <class U, class Body>
  flow<U> stage(const char* op, stage_options so, Body body) && {
    if (err_ || !build_)
      return flow<U>{nullptr, moved_or(err_)};
    if (auto err = detail::check_options(op, so))
      return flow<U>{nullptr, std::move(err)};
    auto build = std::move(build_);
    return flow<U>{[build = std::move(build), op, so, body = std::move(body)](
                     detail::build_context& ctx, sender<U> out) {
      auto ch = ctx.make_channel<T>(so);
      if (!ch)
        return;
      build(ctx, std::move(ch->tx));
      ctx.spawn(ctx.stage_name(op), body, std::move(ch->rx), std::move(out));
    }};
  }

  /// @private Hands out what builds this flow (it is consumed).
  std::pair<detail::build_fn<T>, caf::error> release() && {
    if (err_ || !build_)
      return {nullptr, moved_or(err_)};
    return {std::exchange(build_, nullptr), caf::error{}};
  }

  /// Routes every item to one of `n` worker actors by `key(item)`: items with
  /// the same key go to the same worker, so per-key state and per-key order
  /// hold. Output is in completion order across keys.
  template <class K, class F>
  auto route_by_key(size_t n, K key, F f, stage_options so = {}) && {
    return std::move(*this).route(n, std::move(key), std::move(f),
                                  std::move(so));
  }

  /// `route_by_key` with `so.workers` workers, by default one per thread of
  /// the actor system's scheduler.
  template <class K, class F>
  auto route_by_key(K key, F f, stage_options so = {}) && {
    return std::move(*this).route(std::nullopt, std::move(key), std::move(f),
                                  std::move(so));
  }

private:
  /// @private The stage behind parallel_then(_unordered) (scatter.hpp).
  template <bool Ordered, class F>
  auto scatter_gather(std::optional<size_t> n, F f, stage_options so) &&;

  /// @private The stage behind route_by_key (scatter.hpp).
  template <class K, class F>
  auto route(std::optional<size_t> n, K key, F f, stage_options so) &&;

  static caf::error moved_or(const caf::error& err) {
    if (err)
      return err;
    return make_error(error_code::invalid_argument,
                      "a flow builder was used after it was moved from (each "
                      "operator consumes its builder)");
  }

  detail::build_fn<T> build_;
  caf::error err_;
};

// -- sources ------------------------------------------------------------------

namespace detail {

/// A source stage: `next()` returns the next item or nullopt at the end.
template <class T, class Next>
flow<T> make_source(const char* op, Next next) {
  return flow<T>{[op, next](build_context& ctx, sender<T> out) mutable {
    ctx.spawn(
      ctx.stage_name(op),
      [next](sender<T> out) mutable -> task<> {
        size_t index = 0;
        for (;;) {
          // Fast path: as many items as the credit allows, in one loop.
          if (auto n = out.room_now(); n > 0) {
            if (!produce_ready(out, next, index, n))
              co_return;
            continue;
          }
          throw_if_stopped(); // no credit: the loop above did not check
          std::optional<T> x;
          try {
            x = next();
          } catch (...) {
            rethrow_at(index);
          }
          if (!x || !co_await out.send(std::move(*x)))
            co_return;
          ++index;
        }
      },
      std::move(out));
  }};
}

} // namespace detail

/// A stream of the elements of a container or range (copied into the
/// pipeline, so the source owns them).
template <class Range>
auto from(Range xs) {
  using T = std::decay_t<decltype(*std::begin(xs))>;
  using iterator = decltype(std::begin(std::declval<const Range&>()));
  auto data = std::make_shared<const Range>(std::move(xs));
  // Every run copies this callable, so every run starts at the beginning.
  return detail::make_source<T>(
    "from", [data, it = std::optional<iterator>{}]() mutable {
      if (!it)
        it = std::begin(*data);
      if (*it == std::end(*data))
        return std::optional<T>{};
      return std::optional<T>{*(*it)++};
    });
}

/// All items of several flows of the same type, interleaved as they come:
/// the merged stream ends when every input ended.
template <class T, class... Flows>
flow<T> merge(flow<T> first, Flows... rest) {
  static_assert((std::is_same_v<Flows, flow<T>> && ...),
                "merge(a, b, ...): every input must be a flow of the same "
                "item type");
  std::vector<detail::build_fn<T>> builds;
  caf::error err;
  auto add = [&](auto&& f) {
    auto [b, e] = std::move(f).release();
    if (e && !err)
      err = std::move(e);
    builds.push_back(std::move(b));
  };
  add(std::move(first));
  (add(std::move(rest)), ...);
  if (err)
    return flow<T>{nullptr, std::move(err)};
  return flow<T>{[builds](detail::build_context& ctx, sender<T> out) {
    // Every input gets a sender of its own; the channel into the next stage
    // ends when the last of them is done.
    for (auto& b : builds)
      b(ctx, sender<T>{out});
  }};
}

/// first, first+1, ..., last-1.
template <class T>
flow<T> iota(T first, T last) {
  return detail::make_source<T>("iota", [first, last]() mutable {
    return first < last ? std::optional<T>{first++} : std::nullopt;
  });
}

/// first, first+1, ... without end (end it with `take`).
template <class T>
flow<T> iota(T first) {
  return detail::make_source<T>("iota", [first]() mutable {
    return std::optional<T>{first++};
  });
}

/// `x` forever (end it with `take`).
template <class T>
flow<T> repeat(T x) {
  return detail::make_source<T>("repeat",
                                [x]() { return std::optional<T>{x}; });
}

/// Items from `f() -> std::optional<T>` until it returns nullopt.
template <class F>
auto generate(F f) {
  using opt = std::invoke_result_t<F&>;
  using T = typename opt::value_type;
  return detail::make_source<T>("generate", std::move(f));
}

/// The items of an existing channel, until every sender of it is gone.
template <class T>
flow<T> from(receiver<T> rx) {
  auto holder = std::make_shared<std::optional<receiver<T>>>(std::move(rx));
  return flow<T>{[holder](detail::build_context& ctx, sender<T> out) {
    if (!*holder) {
      if (!ctx.error)
        ctx.error = make_error(error_code::invalid_argument,
                               "from(receiver): a pipeline over a receiver "
                               "can run once");
      return;
    }
    ctx.spawn(
      ctx.stage_name("from"),
      [](receiver<T> in, sender<T> out) -> task<> {
        auto step = [](T&& x) {
          return std::optional<T>{std::move(x)};
        };
        co_await detail::map_stage(in, out, step);
      },
      std::move(**holder), std::move(out));
    holder->reset();
  }};
}

} // namespace actorflow

#include "actorflow/flow/actor_io.hpp"
#include "actorflow/flow/parallel_then.hpp"
#include "actorflow/flow/tee.hpp"
