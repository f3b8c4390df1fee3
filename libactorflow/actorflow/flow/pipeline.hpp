// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/send.hpp>
#include <caf/unit.hpp>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/build_context.hpp"
#include "actorflow/flow/options.hpp"
#include "actorflow/stats.hpp"

namespace actorflow {

template <class R>
class pipeline;

namespace detail {

/// True for `pipeline<R>`: what a flow ended in a sink is.
template <class P>
struct is_pipeline : std::false_type {};

template <class R>
struct is_pipeline<pipeline<R>> : std::true_type {};

} // namespace detail

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

  /// The monitor behind `stats()`, to read the statistics from elsewhere,
  /// e.g. a `metrics_exporter` that serves them; it stays readable after
  /// this handle is gone. Null for a handle without a run.
  std::shared_ptr<const pipeline_monitor> monitor() const {
    return state_ ? state_->monitor : nullptr;
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
    detail::start_watchdog(ctx.state, ctx.opts.watchdog);
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

} // namespace actorflow
