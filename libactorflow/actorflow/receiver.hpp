// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <atomic>
#include <coroutine>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include <caf/send.hpp>

#include "actorflow/channel_metrics.hpp"
#include "actorflow/detail/channel_handle.hpp"
#include "actorflow/detail/rx_endpoint.hpp"

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
  /// @private
  using super
    = detail::channel_handle<detail::rx_endpoint<T>, detail::open_rx_atom>;

  using super::super;

  /// The type of the items on this channel.
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

  /// Awaitable, the batch form of `recv`: waits for at least one item, then
  /// moves up to `limit` of the items buffered now to the end of `out`, oldest
  /// first. Resumes with how many it moved: 0 only at end-of-stream. Throws
  /// `std::invalid_argument` for a `limit` of 0. Only valid inside a worker.
  ///
  /// ~~~
  /// std::vector<int> xs;
  /// while (co_await rx.recv_many(xs, 1024) > 0) {
  ///   for (auto x : xs)
  ///     use(x);
  ///   xs.clear();
  /// }
  /// ~~~
  auto recv_many(std::vector<T>& out, size_t limit) {
    if (limit == 0)
      throw std::invalid_argument("recv_many: limit must be at least 1");
    struct awaiter {
      detail::rx_endpoint<T>* ep;
      std::vector<T>* out;
      size_t limit;

      [[gnu::always_inline]] bool await_ready() {
        return ep == nullptr || ep->ready();
      }

      void await_suspend(std::coroutine_handle<> h) {
        ep->suspend(h);
      }

      size_t await_resume() {
        if (ep == nullptr)
          return 0;
        auto xs = ep->available();
        auto n = std::min(xs.size(), limit);
        out->insert(out->end(), std::make_move_iterator(xs.begin()),
                    std::make_move_iterator(xs.begin() + n));
        ep->consume(n);
        return n;
      }
    };
    return awaiter{ep_.get(), &out, limit};
  }

  /// @private The DSL stages' fast path: the items buffered now, which the
  /// caller moves from (a prefix of them) without suspending, and then
  /// reports with `consume_now(n)`. Empty when `recv` would suspend (or
  /// before the first `recv` bound this receiver to its worker).
  [[gnu::always_inline]] std::span<T> available_now() noexcept {
    return ep_ ? ep_->available() : std::span<T>{};
  }

  /// @private The stop flag of this receiver's worker: a fast-path loop
  /// tests it between two items. Only valid while `available_now()` is not
  /// empty.
  const std::atomic<bool>& stop_flag() const noexcept {
    return ep_->stop_flag();
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
