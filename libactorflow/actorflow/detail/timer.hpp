// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "actorflow/clock.hpp"
#include "actorflow/detail/export.hpp"
#include "actorflow/detail/host.hpp"

namespace actorflow::detail {

/// A deadline of a worker's coroutine, on its host's clock. `arm(at)` has
/// the clock send the host a tick for `at`; when it arrives, and the timer
/// was neither armed again nor disarmed since, the timer counts as fired and
/// calls `on_fire` inside the host (for example `interrupt_recv` of the
/// receiver the coroutine waits on). Create and use it in the coroutine of a
/// worker only; a late tick of an older arming is ignored. `until` makes
/// the coroutine wait for a time instead.
///
/// ~~~
/// detail::timer deadline{[&in] { in.interrupt_recv(); }};
/// deadline.arm(deadline.now() + max_delay);
/// auto x = co_await in.recv(); // an item, or nothing once the time came
/// if (deadline.take_fired()) ...
/// ~~~
class ACTORFLOW_EXPORT timer final : public endpoint {
public:
  explicit timer(std::function<void()> on_fire);

  ~timer() override;

  /// The current time of the host's clock.
  actorflow::clock::time_point now() const {
    return clock_->now();
  }

  /// Fires at `at` (replaces an earlier arming).
  void arm(actorflow::clock::time_point at);

  /// Will not fire for the current arming.
  void disarm() noexcept {
    ++generation_;
    armed_ = false;
  }

  bool armed() const noexcept {
    return armed_;
  }

  /// Awaitable: resumes once the clock reached `at` (at once if it did
  /// already). Replaces an earlier arming.
  ///
  /// ~~~
  /// co_await pause.until(pause.now() + 10ms);
  /// ~~~
  auto until(actorflow::clock::time_point at) {
    struct awaiter {
      timer* self;
      actorflow::clock::time_point at;

      bool await_ready() const {
        return self->now() >= at;
      }

      void await_suspend(std::coroutine_handle<> h) {
        self->waiter_ = h;
        self->arm(at);
      }

      void await_resume() noexcept {
        self->fired_ = false;
      }
    };
    return awaiter{this, at};
  }

  /// Resumes a coroutine waiting in `until` now, before its time (the
  /// timer stays armed).
  void interrupt() {
    if (waiter_)
      host_->make_ready(std::exchange(waiter_, nullptr));
  }

  /// True once if the timer fired since the last call.
  bool take_fired() noexcept {
    auto result = fired_;
    fired_ = false;
    return result;
  }

  void handle(caf::type_erased_tuple& msg) override;

  void flush() override;

private:
  host* host_;
  std::shared_ptr<actorflow::clock> clock_;
  std::function<void()> on_fire_;
  std::coroutine_handle<> waiter_; // suspended in `until`
  uint64_t generation_ = 0;
  bool armed_ = false;
  bool fired_ = false;
};

} // namespace actorflow::detail
