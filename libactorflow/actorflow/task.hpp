// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace actorflow {

/// A lazily started coroutine that runs inside an actorflow worker actor.
/// A worker body returns `task<>`; a task may `co_await` other tasks, channel
/// operations and workers. Exceptions propagate to the awaiting task; from
/// the outermost task they end the worker with an error.
///
/// ~~~
/// actorflow::task<> add_one(actorflow::receiver<int> rx,
///                           actorflow::sender<int> tx) {
///   while (auto x = co_await rx.recv())
///     if (!co_await tx.send(*x + 1))
///       break;
/// }
/// ~~~
template <class T = void>
class [[nodiscard]] task;

namespace detail {

class task_promise_base {
public:
  std::suspend_always initial_suspend() const noexcept {
    return {};
  }

  struct final_awaiter {
    bool await_ready() const noexcept {
      return false;
    }

    template <class Promise>
    std::coroutine_handle<> await_suspend(
      std::coroutine_handle<Promise> h) const noexcept {
      if (auto next = h.promise().continuation_)
        return next;
      return std::noop_coroutine();
    }

    void await_resume() const noexcept {
      // nop
    }
  };

  final_awaiter final_suspend() const noexcept {
    return {};
  }

  void unhandled_exception() noexcept {
    error_ = std::current_exception();
  }

  void rethrow_if_failed() const {
    if (error_)
      std::rethrow_exception(error_);
  }

  std::exception_ptr exception() const noexcept {
    return error_;
  }

  std::coroutine_handle<> continuation_;

private:
  std::exception_ptr error_;
};

template <class T>
class task_promise : public task_promise_base {
public:
  task<T> get_return_object() noexcept;

  template <class U>
  void return_value(U&& x) {
    value_.emplace(std::forward<U>(x));
  }

  T result() {
    rethrow_if_failed();
    return std::move(*value_);
  }

private:
  std::optional<T> value_;
};

template <>
class task_promise<void> : public task_promise_base {
public:
  task<void> get_return_object() noexcept;

  void return_void() noexcept {
    // nop
  }

  void result() const {
    rethrow_if_failed();
  }
};

} // namespace detail

template <class T>
class [[nodiscard]] task {
public:
  /// @private The coroutine's promise.
  using promise_type = detail::task_promise<T>;
  /// @private
  using handle_type = std::coroutine_handle<promise_type>;

  /// An empty task (`valid()` is false).
  task() noexcept = default;

  /// @private Used by the promise.
  explicit task(handle_type h) noexcept : h_(h) {
    // nop
  }

  /// Takes over the coroutine of `other`, which becomes empty.
  task(task&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {
    // nop
  }

  /// Destroys this task's coroutine, then takes over the one of `other`.
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, nullptr);
    }
    return *this;
  }

  task(const task&) = delete;
  task& operator=(const task&) = delete;

  ~task() {
    reset();
  }

  /// True if this task holds a coroutine.
  bool valid() const noexcept {
    return static_cast<bool>(h_);
  }

  /// True if the coroutine ran to its end.
  bool done() const noexcept {
    return h_ && h_.done();
  }

  /// @private Used by worker hosts.
  handle_type handle() const noexcept {
    return h_;
  }

  /// Destroys the coroutine frame (and the handles it owns).
  void reset() noexcept {
    if (h_)
      std::exchange(h_, nullptr).destroy();
  }

  /// Runs the coroutine (a child task) to its end and resumes the awaiting
  /// coroutine with its result; an exception propagates to the awaiter.
  auto operator co_await() && noexcept {
    struct awaiter {
      handle_type h;

      bool await_ready() const noexcept {
        return !h || h.done();
      }

      std::coroutine_handle<> await_suspend(
        std::coroutine_handle<> caller) noexcept {
        h.promise().continuation_ = caller;
        return h;
      }

      T await_resume() {
        return h.promise().result();
      }
    };
    return awaiter{h_};
  }

private:
  handle_type h_;
};

namespace detail {

template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}

inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{
    std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}

} // namespace detail

} // namespace actorflow
