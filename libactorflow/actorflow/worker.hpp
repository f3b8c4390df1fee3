// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <condition_variable>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/error.hpp>

#include "actorflow/clock.hpp"
#include "actorflow/detail/export.hpp"
#include "actorflow/detail/host.hpp"
#include "actorflow/error.hpp"
#include "actorflow/task.hpp"

namespace actorflow {

/// Settings of one worker.
struct worker_options {
  /// Names the worker in errors; empty picks "worker-<n>".
  std::string name;
  /// Called once when the worker ended, with its error (empty on success),
  /// from the thread that ended it. Keep it short and non-blocking.
  std::function<void(const caf::error&)> on_exit = nullptr;
  /// @private Where a pipeline stage records its statistics (set by the
  /// stream DSL, see stats.hpp).
  std::shared_ptr<detail::stage_probe> probe = nullptr;
  /// The clock of the worker's timers (time operators); null: the steady
  /// clock (see clock.hpp).
  std::shared_ptr<actorflow::clock> clock = nullptr;
};

namespace detail {

/// What a worker's awaiters share with the actor that runs it.
struct ACTORFLOW_EXPORT worker_state {
  explicit worker_state(std::string worker_name,
                        std::function<void(const caf::error&)> listener = {});

  /// Records the outcome once and wakes blocking joiners.
  void publish(caf::error err);

  /// Blocks until `publish` ran.
  caf::error wait();

  bool done();

  caf::error result();

  const std::string name;

  /// Statistics of a pipeline stage, or null. `publish` marks it done.
  std::shared_ptr<stage_probe> probe;

  /// The clock of the worker's timers, or null for the steady clock.
  std::shared_ptr<actorflow::clock> clock;

private:
  std::function<void(const caf::error&)> listener_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  caf::error err_;
};

ACTORFLOW_EXPORT std::string next_worker_name();

/// The result of calling a body, or `void*` when it cannot be called (so that
/// only the static_assert that explains the mistake fires).
template <bool Invocable, class F, class... Ts>
struct body_result {
  using type = void*;
};

template <class F, class... Ts>
struct body_result<true, F, Ts...> {
  using type = std::invoke_result_t<F&, Ts&&...>;
};

/// Thrown from a body whose user code returned an error instead of throwing:
/// the worker's error then says "failed" rather than "threw".
class ACTORFLOW_EXPORT returned_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;

  ~returned_error() override;
};

ACTORFLOW_EXPORT caf::error failure(const std::string& worker,
                                    std::exception_ptr ep);

/// Hosts the coroutine of one cooperative worker.
class ACTORFLOW_EXPORT worker_host : public host {
public:
  worker_host(caf::actor_config& cfg, std::shared_ptr<worker_state> state);

  ~worker_host() override;

  const char* name() const override;

protected:
  virtual task<> make_task() = 0;

  /// Destroys what the body still holds (its channel handles close).
  virtual void release_arguments() noexcept = 0;

  void start() override;

  void after_activation() override;

  void on_exit() override;

private:
  /// Ends the worker with the error `err` (empty on success); its actor
  /// exits with `reason`.
  void complete(caf::error err, caf::error reason);

  std::shared_ptr<worker_state> state_;
  task<> task_;
};

template <class F, class... Ts>
class worker_actor final : public worker_host {
public:
  worker_actor(caf::actor_config& cfg, std::shared_ptr<worker_state> state, F f,
               Ts... xs)
    : worker_host(cfg, std::move(state)),
      f_(std::move(f)),
      args_(std::in_place, std::move(xs)...) {
    // nop
  }

protected:
  task<> make_task() override {
    return std::apply(f_, std::move(*args_));
  }

  void release_arguments() noexcept override {
    args_.reset();
  }

private:
  F f_;
  std::optional<std::tuple<Ts...>> args_;
};

template <class F, class... Ts>
class blocking_worker_actor final : public caf::blocking_actor {
public:
  blocking_worker_actor(caf::actor_config& cfg,
                        std::shared_ptr<worker_state> state, F f, Ts... xs)
    : caf::blocking_actor(cfg),
      state_(std::move(state)),
      f_(std::move(f)),
      args_(std::in_place, std::move(xs)...) {
    // nop
  }

  void act() override {
    caf::error err;
    try {
      std::apply(f_, std::move(*args_));
    } catch (...) {
      err = failure(state_->name, std::current_exception());
    }
    args_.reset(); // closes the channel handles the body still owns
    state_->publish(err);
    if (err)
      fail_state(std::move(err));
  }

  const char* name() const override {
    return "actorflow.blocking_worker";
  }

private:
  std::shared_ptr<worker_state> state_;
  F f_;
  std::optional<std::tuple<Ts...>> args_;
};

} // namespace detail

/// A handle to a running worker. Await it from a worker (`co_await w`), or
/// `join()` it from a plain thread; both yield the worker's `caf::error`
/// (empty on success). Dropping the handle does not stop the worker.
class ACTORFLOW_EXPORT worker {
public:
  worker() noexcept = default;

  /// @private
  worker(caf::actor hdl, std::shared_ptr<detail::worker_state> state) noexcept;

  /// The actor that runs the worker.
  const caf::actor& actor() const noexcept {
    return hdl_;
  }

  /// The worker's name, as errors and statistics show it.
  const std::string& name() const;

  /// True once the worker ended.
  bool done() const;

  /// Blocks until the worker ended and returns its error (empty on success).
  /// Never call this inside a worker: use `co_await` there.
  caf::error join() const;

  /// Asks the worker to stop now (its channel ends close).
  void cancel() const;

  /// Awaitable from inside a worker; resumes with the worker's error.
  auto operator co_await() const {
    struct awaiter {
      const worker* self;

      bool await_ready() const {
        return self->state_ == nullptr || self->state_->done();
      }

      void await_suspend(std::coroutine_handle<> h) const {
        auto current = detail::host::current();
        if (current == nullptr)
          throw std::logic_error("actorflow: co_await on a worker outside an "
                                 "actorflow worker; use join()");
        current->resume_on_down(self->hdl_.address(), h);
      }

      caf::error await_resume() const {
        if (self->state_ == nullptr)
          return make_error(error_code::invalid_handle, "empty worker handle");
        return self->state_->result();
      }
    };
    return awaiter{this};
  }

private:
  caf::actor hdl_;
  std::shared_ptr<detail::worker_state> state_;
};

namespace detail {

/// Spawns the actor `Actor` that runs a worker body, with its shared state.
template <class Actor, class F, class... Ts>
worker launch(caf::actor_system& sys, worker_options opts, F f, Ts&&... xs) {
  auto state = std::make_shared<worker_state>(
    opts.name.empty() ? next_worker_name() : std::move(opts.name),
    std::move(opts.on_exit));
  state->probe = std::move(opts.probe);
  state->clock = std::move(opts.clock);
  auto hdl = sys.spawn<Actor>(state, std::move(f), std::forward<Ts>(xs)...);
  return worker{std::move(hdl), std::move(state)};
}

} // namespace detail

/// Spawns a cooperative worker: `f(xs...)` must return `task<>`. The worker
/// is an event-based actor, so thousands of workers share CAF's scheduler
/// threads. An exception thrown by the body ends the worker with
/// `error_code::worker_failed` naming it, and closes its channel ends so
/// that its neighbours stop.
///
/// ~~~
/// auto w = actorflow::spawn_worker(sys, add_one, std::move(rx), std::move(tx));
/// if (auto err = w.join())
///   std::cerr << actorflow::to_string_any(err) << '\n';
/// ~~~
template <class F, class... Ts>
worker spawn_worker(caf::actor_system& sys, worker_options opts, F f,
                    Ts&&... xs) {
  constexpr bool invocable = std::is_invocable_v<F&, std::decay_t<Ts>&&...>;
  static_assert(invocable,
                "spawn_worker: the body must be callable with the given "
                "arguments (it receives them by value, moved from the call)");
  using result =
    typename detail::body_result<invocable, F, std::decay_t<Ts>...>::type;
  constexpr bool is_task = std::is_same_v<result, task<>>;
  static_assert(!invocable || is_task,
                "spawn_worker: the body must be a coroutine returning "
                "actorflow::task<> (use spawn_blocking_worker for a plain "
                "function that blocks)");
  if constexpr (is_task) {
    return detail::launch<detail::worker_actor<F, std::decay_t<Ts>...>>(
      sys, std::move(opts), std::move(f), std::forward<Ts>(xs)...);
  } else {
    return worker{};
  }
}

/// Spawns a cooperative worker with default options.
template <class F, class... Ts>
std::enable_if_t<!std::is_same_v<std::decay_t<F>, worker_options>, worker>
spawn_worker(caf::actor_system& sys, F f, Ts&&... xs) {
  return spawn_worker(sys, worker_options{}, std::move(f),
                      std::forward<Ts>(xs)...);
}

/// Spawns a blocking worker: `f(xs...)` runs on a thread of its own (a
/// detached CAF actor) and uses `blocking_send` / `blocking_recv`. For
/// bodies that must block, such as file or socket I/O.
template <class F, class... Ts>
worker spawn_blocking_worker(caf::actor_system& sys, worker_options opts, F f,
                             Ts&&... xs) {
  constexpr bool invocable = std::is_invocable_v<F&, std::decay_t<Ts>&&...>;
  static_assert(invocable,
                "spawn_blocking_worker: the body must be callable with the "
                "given arguments (it receives them by value, moved from the "
                "call)");
  using result =
    typename detail::body_result<invocable, F, std::decay_t<Ts>...>::type;
  constexpr bool is_void = std::is_void_v<result>;
  static_assert(!invocable || is_void,
                "spawn_blocking_worker: the body must be a plain function "
                "returning void (use spawn_worker for a coroutine returning "
                "actorflow::task<>)");
  if constexpr (is_void) {
    return detail::launch<
      detail::blocking_worker_actor<F, std::decay_t<Ts>...>>(
      sys, std::move(opts), std::move(f), std::forward<Ts>(xs)...);
  } else {
    return worker{};
  }
}

/// Spawns a blocking worker with default options.
template <class F, class... Ts>
std::enable_if_t<!std::is_same_v<std::decay_t<F>, worker_options>, worker>
spawn_blocking_worker(caf::actor_system& sys, F f, Ts&&... xs) {
  return spawn_blocking_worker(sys, worker_options{}, std::move(f),
                               std::forward<Ts>(xs)...);
}

} // namespace actorflow
