// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "actorflow/detail/channel_actor.hpp"
#include "actorflow/error.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"

namespace actorflow {

/// Tuning of one channel.
struct channel_options {
  /// Most items per message; 0 picks a quarter of the capacity (at least
  /// 1), so that four batches are in flight. Senders collect up to this many
  /// items per activation into one message, which leaves when it is full or
  /// when the sender suspends (or `linger` passed): a large batch adds no
  /// latency.
  uint32_t batch = 0;
  /// How many items each receiver asks for ahead of its `recv` calls; 0
  /// picks two batches, but at most half the capacity. At most `capacity`.
  uint32_t read_ahead = 0;
  /// 0 (default): a receiver keeps the fixed `read_ahead`. Otherwise a
  /// coroutine receiver adapts its read-ahead to about this much work,
  /// measured while it runs, up to `read_ahead`: slow consumers hold few
  /// items, fast ones get large batches (`parallel_then` uses this for its
  /// workers).
  std::chrono::nanoseconds read_ahead_time{0};
  /// 0 (default): a partly filled batch leaves as soon as its sender's
  /// worker suspends, which adds no latency. Otherwise it waits up to this
  /// long (on the worker's clock) for more items: fewer, fuller batches and
  /// fewer messages per item, for up to `linger` more latency per item. Full
  /// batches leave at once, and a sender waiting for credit sends what it
  /// holds. Applies to senders in workers (not to `blocking_send` nor to a
  /// channel end in another process); negative is an error.
  std::chrono::nanoseconds linger{0};
};

/// Both ends of a new channel; supports structured bindings.
template <class T>
struct channel_pair {
  /// The sending end.
  sender<T> tx;
  /// The receiving end.
  receiver<T> rx;
};

/// Creates a bounded multi-producer, multi-consumer channel whose mailbox is
/// an actor in `sys`. The contract:
///
/// - **Bounded**: at most `capacity` items are in flight between the senders'
///   `send` and the receivers' `recv` (credit held by senders + items in the
///   channel + items delivered to receivers and not yet consumed). A sender
///   without credit waits.
/// - **MPMC**: copies of either handle are further senders or receivers; each
///   item reaches exactly one receiver; items of one sender keep their order.
/// - **Closing**: once every sender is gone, receivers drain the buffer and
///   then see end-of-stream. Once every receiver is gone, `send` fails and
///   hands the item back; accepted items that never reached a receiver come
///   back through `sender::take_returned`.
/// - **Batching**: items and credit travel in batches of up to
///   `options.batch`, one CAF message per batch.
///
/// Capacity 0 is not a rendezvous channel: it yields
/// `error_code::invalid_capacity`.
///
/// ~~~
/// auto ch = actorflow::channel<int>(sys, 2);
/// if (!ch)
///   return ch.error();
/// auto [tx, rx] = std::move(*ch);
/// ~~~
template <class T>
caf::expected<channel_pair<T>> channel(caf::actor_system& sys, size_t capacity,
                                       channel_options opts = {}) {
  constexpr size_t max_capacity = detail::max_channel_capacity;
  if (capacity == 0)
    return make_error(error_code::invalid_capacity,
                      "channel capacity must be at least 1 (0 would never "
                      "let an item through; actorflow has no rendezvous "
                      "channel)");
  if (capacity > max_capacity)
    return make_error(error_code::invalid_capacity,
                      "channel capacity " + std::to_string(capacity)
                        + " exceeds the maximum of "
                        + std::to_string(max_capacity));
  if (opts.read_ahead > capacity)
    return make_error(error_code::invalid_argument,
                      "channel read-ahead " + std::to_string(opts.read_ahead)
                        + " exceeds the capacity of "
                        + std::to_string(capacity));
  if (opts.linger < std::chrono::nanoseconds::zero())
    return make_error(error_code::invalid_argument,
                      "channel linger must not be negative (0: none)");
  detail::channel_params params;
  params.capacity = static_cast<uint32_t>(capacity);
  params.batch = opts.batch != 0 ? opts.batch
                                 : std::max<uint32_t>(params.capacity / 4, 1);
  params.read_ahead = opts.read_ahead;
  params.read_ahead_ns = static_cast<uint32_t>(
    std::clamp<int64_t>(opts.read_ahead_time.count(), 0, INT32_MAX));
  params.linger_ns = opts.linger.count();
  auto stats = std::make_shared<detail::channel_stats>();
  auto tx_id = detail::next_endpoint_id();
  auto rx_id = detail::next_endpoint_id();
  auto hdl = sys.spawn<detail::channel_actor<T>>(params, tx_id, rx_id, stats);
  auto tx = std::make_shared<detail::tx_endpoint<T>>(hdl, params, tx_id);
  auto rx = std::make_shared<detail::rx_endpoint<T>>(hdl, params, rx_id);
  return channel_pair<T>{sender<T>{std::move(tx), stats},
                         receiver<T>{std::move(rx), stats}};
}

} // namespace actorflow
