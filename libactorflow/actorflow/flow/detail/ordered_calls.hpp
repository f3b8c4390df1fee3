// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <optional>
#include <utility>

#include "actorflow/detail/host.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow::detail {

/// Runs up to `limit` calls of a coroutine function at once inside the
/// current worker (one actor, no extra threads) and hands their results out
/// in input order. A feeder coroutine takes items from `in` and starts one
/// driver coroutine per item, `call(item, index) -> task<V>`; it waits while
/// `limit` of them are unfinished. `next` yields the result of the oldest
/// item once it is there (an exception from a call is rethrown there, in
/// input order, after the other calls in flight finished); an empty
/// optional means every item is through.
///
/// Leave early only after `co_await drain()` (`next` does so before it
/// rethrows): the feeder and the calls in flight wait for input or for
/// responses (e.g. of `actorflow::ask`) that must not resume a destroyed
/// coroutine while the actor lives on. Only an actor that terminates may
/// destroy this object with coroutines still suspended.
///
/// ~~~
/// ordered_calls<T, V, Call> calls{k, in, std::move(call)};
/// while (auto y = co_await calls.next())
///   if (!co_await out.send(std::move(*y))) {
///     co_await calls.drain();
///     co_return;
///   }
/// ~~~
template <class T, class V, class Call>
class ordered_calls {
public:
  ordered_calls(size_t limit, receiver<T>& in, Call call)
    : limit_(limit > 0 ? limit : 1), in_(in), call_(std::move(call)) {
    // nop
  }

  ordered_calls(const ordered_calls&) = delete;
  ordered_calls& operator=(const ordered_calls&) = delete;

  /// The result of the oldest item not handed out yet, or an empty optional
  /// at the end of the input.
  task<std::optional<V>> next() {
    start();
    for (;;) {
      if (!slots_.empty() && slots_.front().done) {
        auto s = std::move(slots_.front());
        slots_.pop_front();
        wake(feeder_waits_);
        if (s.error) {
          co_await drain();
          std::rethrow_exception(s.error);
        }
        co_return std::move(s.value);
      }
      if (slots_.empty() && input_done_) {
        if (feeder_error_)
          std::rethrow_exception(feeder_error_);
        co_return std::nullopt;
      }
      waiter w{consumer_waits_};
      co_await w;
    }
  }

  /// Takes no more items and waits until every call in flight and the
  /// feeder finished, so that nothing of this object is scheduled any more.
  task<> drain() {
    stop_ = true;
    wake(feeder_waits_);
    in_.interrupt_recv();
    while ((feeder_.valid() && !input_done_) || unfinished() > 0) {
      waiter w{consumer_waits_};
      co_await w;
    }
  }

  /// Takes no more items, but finishes the calls in flight and an item the
  /// feeder received meanwhile: `next` yields their results, then an empty
  /// optional. For a worker that leaves its stage early (see `drain_hook`);
  /// callable from outside a coroutine of this worker.
  void stop_taking() {
    stop_ = true;
    keep_taken_ = true;
    if (host_ != nullptr)
      wake(feeder_waits_);
    in_.interrupt_recv();
  }

  /// How many calls are in flight.
  size_t unfinished() const noexcept {
    size_t n = 0;
    for (auto& s : slots_)
      if (!s.done)
        ++n;
    return n;
  }

private:
  struct slot {
    std::optional<V> value;
    std::exception_ptr error;
    bool done = false;
    task<> driver;
  };

  /// Suspends until `wake(slot)`.
  struct waiter {
    std::coroutine_handle<>& slot;

    bool await_ready() const noexcept {
      return false;
    }

    void await_suspend(std::coroutine_handle<> h) noexcept {
      slot = h;
    }

    void await_resume() const noexcept {
      // nop
    }
  };

  void start() {
    if (feeder_.valid())
      return;
    host_ = host::current();
    feeder_ = feed();
    host_->make_ready(feeder_.handle());
  }

  void wake(std::coroutine_handle<>& slot) {
    if (auto h = std::exchange(slot, nullptr))
      host_->make_ready(h);
  }

  task<> feed() {
    try {
      size_t index = 0;
      for (;;) {
        while (!stop_ && slots_.size() >= limit_) {
          waiter w{feeder_waits_};
          co_await w;
        }
        if (stop_)
          break;
        auto x = co_await in_.recv();
        if (!x || (stop_ && !keep_taken_))
          break;
        auto& s = slots_.emplace_back();
        s.driver = drive(s, std::move(*x), index++);
        host_->make_ready(s.driver.handle());
      }
    } catch (...) {
      feeder_error_ = std::current_exception();
    }
    input_done_ = true;
    wake(consumer_waits_);
  }

  task<> drive(slot& s, T x, size_t index) {
    try {
      auto t = call_(std::move(x), index);
      auto y = co_await std::move(t);
      s.value.emplace(std::move(y));
    } catch (...) {
      s.error = std::current_exception();
    }
    s.done = true;
    wake(consumer_waits_);
  }

  size_t limit_;
  receiver<T>& in_;
  Call call_;
  host* host_ = nullptr;
  std::deque<slot> slots_; // oldest first; references stay valid
  task<> feeder_;
  std::coroutine_handle<> feeder_waits_;
  std::coroutine_handle<> consumer_waits_;
  bool input_done_ = false;
  bool stop_ = false;
  bool keep_taken_ = false; // stop_taking: an item received is still called
  std::exception_ptr feeder_error_;
};

/// Sends the results of `calls` to `out` in input order until the input
/// ends; `pick(V&&) -> std::optional<U>` chooses what goes out (nothing for
/// a dropped item). Drains the calls once every receiver of `out` is gone.
template <class T, class V, class Call, class U, class Pick>
task<> send_results(ordered_calls<T, V, Call>& calls, sender<U>& out,
                    Pick pick) {
  while (auto y = co_await calls.next()) {
    auto z = pick(std::move(*y));
    if (z && !co_await out.send(std::move(*z))) {
      co_await calls.drain();
      co_return;
    }
  }
}

} // namespace actorflow::detail
