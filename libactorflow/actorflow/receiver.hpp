// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <coroutine>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include <caf/send.hpp>

#include "actorflow/detail/channel_handle.hpp"
#include "actorflow/detail/endpoints.hpp"
#include "actorflow/metrics.hpp"

namespace actorflow {

/// The receiving end of a channel. Copyable: copies share the channel's
/// items, each item reaching exactly one of them. `recv` yields an empty
/// optional once every sender is gone and the channel is drained.
///
/// Inside a worker use `co_await rx.recv()`; from a plain thread use
/// `rx.blocking_recv()`. Items a receiver took from the channel but never
/// returned from `recv` go back to the channel when it closes.
///
/// ~~~
/// while (auto x = rx.blocking_recv())
///   std::cout << *x << '\n';
/// ~~~
template <class T>
class receiver : public detail::channel_handle<detail::rx_endpoint<T>,
                                               detail::open_rx_atom> {
public:
  using super
    = detail::channel_handle<detail::rx_endpoint<T>, detail::open_rx_atom>;

  using super::super;

  using value_type = T;

  /// Awaitable: resumes with the next item, or with an empty optional at
  /// end-of-stream. Only valid inside an actorflow worker.
  auto recv() {
    struct awaiter {
      detail::rx_endpoint<T>* ep;

      [[gnu::always_inline]] bool await_ready() {
        return ep == nullptr || ep->ready();
      }

      void await_suspend(std::coroutine_handle<> h) {
        ep->suspend(h);
      }

      [[gnu::always_inline]] std::optional<T> await_resume() {
        return ep != nullptr ? ep->take() : std::nullopt;
      }
    };
    return awaiter{ep_.get()};
  }

  /// @private The DSL stages' fast path: the items buffered now, which the
  /// caller moves from (a prefix of them) without suspending, and then
  /// reports with `consume_now(n)`. Empty when `recv` would suspend (or
  /// before the first `recv` bound this receiver to its worker).
  [[gnu::always_inline]] std::span<T> available_now() noexcept {
    return ep_ ? ep_->available() : std::span<T>{};
  }

  /// @private Marks the first `n` items of `available_now()` as received.
  [[gnu::always_inline]] void consume_now(size_t n) {
    ep_->consume(n);
  }

  /// @private Resumes a coroutine of this worker that waits in `recv`; that
  /// `recv` yields an empty optional unless an item is there. Lets a worker
  /// stop a coroutine of its own that waits for input.
  void interrupt_recv() {
    if (ep_)
      ep_->interrupt();
  }

  /// Blocks the calling thread until an item or end-of-stream arrives. Never
  /// call this inside a worker (it throws `std::logic_error` there).
  std::optional<T> blocking_recv() {
    return ep_ ? ep_->blocking_recv(ep_) : std::nullopt;
  }

private:
  using super::ep_;
};

} // namespace actorflow
