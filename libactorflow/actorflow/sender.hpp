// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <atomic>
#include <coroutine>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/send.hpp>

#include "actorflow/channel_metrics.hpp"
#include "actorflow/detail/channel_handle.hpp"
#include "actorflow/detail/tx_endpoint.hpp"
#include "actorflow/error.hpp"
#include "actorflow/task.hpp"

namespace actorflow {

/// The outcome of a send: success, or failure with the item handed back.
///
/// ~~~
/// if (auto r = co_await tx.send(x); !r)
///   keep(std::move(r.item())); // every receiver is gone
/// ~~~
template <class T>
class send_result {
public:
  send_result() noexcept = default;

  /// A failed send: the channel refused `rejected` because of `why`.
  send_result(T rejected, error_code why)
    : failed_(std::make_unique<failure>(failure{std::move(rejected), why})) {
    // nop
  }

  /// True if the channel accepted the item.
  explicit operator bool() const noexcept {
    return failed_ == nullptr;
  }

  /// True if the channel accepted the item (same as `operator bool`).
  bool ok() const noexcept {
    return failed_ == nullptr;
  }

  /// The item that was not sent. Precondition: `!ok()`.
  T& item() {
    return failed_->item;
  }

  /// Why the item was not sent (`error_code::none` on success).
  error_code reason() const noexcept {
    return failed_ ? failed_->why : error_code::none;
  }

private:
  // Success, the hot path, is one null pointer: cheap to return and test.
  struct failure {
    T item;
    error_code why;
  };

  std::unique_ptr<failure> failed_;
};

namespace detail {

/// A temporary range that does not merely view its items (a `std::vector`,
/// not a `std::span` of any extent): what `std::span` itself refuses.
template <class Range>
constexpr bool is_temporary_container
  = std::ranges::range<Range> && !std::ranges::borrowed_range<Range>;

} // namespace detail

/// The outcome of `send_many`: how many items the channel accepted and, if
/// that is not all of them, why it stopped (the rest stay where they were).
struct send_many_result {
  /// Items accepted, a prefix of the span (moved from).
  size_t sent = 0;

  /// `error_code::none` if every item was accepted.
  error_code why = error_code::none;

  /// True if the channel accepted every item.
  explicit operator bool() const noexcept {
    return why == error_code::none;
  }
};

/// The sending end of a channel. Copyable: every copy is an independent
/// sender with its own credit and FIFO order; the channel ends (receivers
/// see end-of-stream) when every copy is closed or destroyed.
///
/// Inside a worker use `co_await tx.send(x)`; from a plain thread use
/// `tx.blocking_send(x)`. A handle binds to the first context that uses it.
///
/// ~~~
/// auto ch = actorflow::channel<int>(sys, 2);
/// auto [tx, rx] = std::move(*ch);
/// tx.blocking_send(7);
/// ~~~
template <class T>
class sender : public detail::channel_handle<detail::tx_endpoint<T>,
                                             detail::open_tx_atom> {
public:
  /// @private
  using super
    = detail::channel_handle<detail::tx_endpoint<T>, detail::open_tx_atom>;

  using super::super;

  /// The type of the items on this channel.
  using value_type = T;

  /// Awaitable: waits for credit, then hands `x` to the channel. Resumes with
  /// a `send_result<T>` that fails, handing `x` back, once every receiver is
  /// gone. Only valid inside an actorflow worker.
  auto send(T x) {
    struct awaiter {
      detail::tx_endpoint<T>* ep;
      T item;

      [[gnu::always_inline]] bool await_ready() {
        return ep == nullptr || ep->ready();
      }

      void await_suspend(std::coroutine_handle<> h) {
        ep->suspend(h);
      }

      [[gnu::always_inline]] send_result<T> await_resume() {
        if (ep == nullptr)
          return {std::move(item), error_code::invalid_handle};
        if (auto rejected = ep->accept(std::move(item)))
          return {std::move(*rejected), error_code::receivers_gone};
        return {};
      }
    };
    return awaiter{ep_.get(), std::move(x)};
  }

  /// The batch form of `send`: hands the items of `xs` to the channel in
  /// order, waiting for credit whenever the granted credit is used up, so at
  /// most the granted credit is in flight as with `send`. Moves from the
  /// items it sends. Resumes with a `send_many_result` that fails once every
  /// receiver is gone; the items from `sent` on are then left in `xs`. Await
  /// it at once: it refers to this sender. Only valid inside a worker.
  ///
  /// ~~~
  /// if (auto r = co_await tx.send_many(xs); !r)
  ///   keep(xs.begin() + r.sent, xs.end()); // every receiver is gone
  /// ~~~
  task<send_many_result> send_many(std::span<T> xs) {
    size_t i = 0;
    while (i < xs.size()) {
      // Credit in hand: append without suspending. Otherwise `send` one
      // item, which waits for credit (and binds this sender on first use).
      if (auto n = std::min(room_now(), xs.size() - i); n > 0) {
        for (auto last = i + n; i < last; ++i)
          append_now(std::move(xs[i]));
        commit_now();
        continue;
      }
      auto r = co_await send(std::move(xs[i]));
      if (!r) {
        xs[i] = std::move(r.item());
        co_return send_many_result{i, r.reason()};
      }
      ++i;
    }
    co_return send_many_result{i, error_code::none};
  }

  /// @private Catches a temporary (say `send_many(std::vector{...})`): the
  /// items that are not sent would be gone with it.
  template <class Range,
            class = std::enable_if_t<detail::is_temporary_container<Range>>>
  task<send_many_result> send_many(Range&&) {
    static_assert(!detail::is_temporary_container<Range>,
                  "send_many: pass the items as a named container or a span: "
                  "the items it does not send stay there");
    co_return send_many_result{};
  }

  /// @private The DSL stages' fast path: how many items `append_now` may
  /// take without waiting for credit (0 when `send` might suspend or fail,
  /// or before the first `send` bound this sender to its worker).
  [[gnu::always_inline]] size_t room_now() const noexcept {
    return ep_ ? ep_->room() : 0;
  }

  /// @private The stop flag of this sender's worker (see
  /// `receiver::stop_flag`). Only valid while `room_now()` is not 0.
  const std::atomic<bool>& stop_flag() const noexcept {
    return ep_->stop_flag();
  }

  /// @private Sends `x` without suspending; at most `room_now()` times, then
  /// `commit_now()`.
  [[gnu::always_inline]] void append_now(T&& x) {
    ep_->append(std::move(x));
  }

  /// @private Ends a run of `append_now`.
  void commit_now() {
    ep_->commit();
  }

  /// Blocks the calling thread until there is credit, then hands `x` to the
  /// channel. Fails, handing `x` back, once every receiver is gone. Never
  /// call this inside a worker (it throws `std::logic_error` there).
  send_result<T> blocking_send(T x) {
    if (!ep_)
      return {std::move(x), error_code::invalid_handle};
    if (auto rejected = ep_->blocking_send(ep_, std::move(x)))
      return {std::move(*rejected), error_code::receivers_gone};
    return {};
  }

  /// @private Calls `f` in this sender's worker once every receiver is
  /// gone: wakes a coroutine of the worker that waits for something other
  /// than `send` (a time operator waiting on its clock).
  void on_receivers_gone(std::function<void()> f) {
    if (ep_)
      ep_->on_gone(std::move(f));
  }

  /// @private Calls `f` in this sender's worker whenever credit arrives:
  /// wakes a coroutine of the worker that sends only when it can without
  /// waiting (`conflate`). Null: no call.
  void on_credit(std::function<void()> f) {
    if (ep_)
      ep_->on_credit(std::move(f));
  }

  /// True once the channel told this sender that every receiver is gone.
  bool receivers_gone() const {
    return ep_ && ep_->receivers_gone();
  }

  /// Returns the items the channel handed back because every receiver left
  /// before taking them. They were accepted by `send`, so they are returned
  /// here rather than dropped.
  std::vector<T> take_returned() {
    return ep_ ? ep_->take_returned() : std::vector<T>{};
  }

private:
  using super::ep_;
};

} // namespace actorflow
