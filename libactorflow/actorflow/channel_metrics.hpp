// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <cstdint>
#include <memory>

#include "actorflow/detail/channel_params.hpp"

namespace actorflow {

/// A snapshot of a channel's instruments.
struct channel_metrics {
  /// Items that senders handed to the channel.
  uint64_t pushed = 0;
  /// Items the channel delivered to receivers (a re-delivery counts again).
  uint64_t delivered = 0;
  /// Items handed back to their senders because every receiver was gone.
  uint64_t returned = 0;
  /// Items nobody could take any more (every handle on both sides gone, or a
  /// host actor killed while items were on their way to it).
  uint64_t lost = 0;
  /// Items dropped because the channel's pipeline was cancelled or failed
  /// (buffered, never processed; see `running<R>::cancel`).
  uint64_t cancelled = 0;
  /// Protocol messages that carried items into the channel.
  uint64_t messages_in = 0;
  /// The high-water mark of items in flight: credit held by senders, items
  /// buffered in the channel and items delivered but not yet consumed.
  uint64_t max_in_flight = 0;
};

namespace detail {

inline channel_metrics snapshot(const std::shared_ptr<channel_stats>& st) {
  channel_metrics m;
  if (st) {
    m.pushed = st->pushed.load();
    m.delivered = st->delivered.load();
    m.returned = st->returned.load();
    m.lost = st->lost.load();
    m.cancelled = st->cancelled.load();
    m.messages_in = st->messages_in.load();
    m.max_in_flight = st->max_in_flight.load();
  }
  return m;
}

} // namespace detail

} // namespace actorflow
