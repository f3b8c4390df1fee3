// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The lanes of keyed windows (`flow::key_by`): the scatter of route_by_key
// sends every item to the lane of its key as a `keyed_item`, and each lane
// keeps the open windows of its keys.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "actorflow/clock.hpp"
#include "actorflow/detail/timer.hpp"
#include "actorflow/flow/detail/time_loops.hpp"
#include "actorflow/flow/keyed_window.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow::detail {

/// An item on its way to the lane of its key. Event time only: `time` is
/// the item's time and `watermark` the stream's watermark once it came.
template <class K, class T>
struct keyed_item {
  K key{};
  T item{};
  std::chrono::nanoseconds time{0};
  std::chrono::nanoseconds watermark{0};
};

/// @private CAF's inspection (items travel through channels).
template <class Inspector, class K, class T>
typename Inspector::result_type inspect(Inspector& f, keyed_item<K, T>& x) {
  return f(caf::meta::type_name("actorflow::detail::keyed_item"), x.key, x.item,
           x.time, x.watermark);
}

/// The items of one window, per key, keys in the order their first item
/// came.
template <class K, class T>
class key_panes {
public:
  bool empty() const noexcept {
    return panes_.empty();
  }

  void add(K&& key, T&& x) {
    auto [i, fresh] = index_.try_emplace(key, panes_.size());
    if (fresh)
      panes_.emplace_back(std::move(key), std::vector<T>{});
    panes_[i->second].second.push_back(std::move(x));
  }

  /// Sends one window [start, end) per key and forgets them; false once
  /// nobody receives.
  task<bool> send_all(sender<keyed_window<K, T>>& out,
                      std::chrono::nanoseconds start,
                      std::chrono::nanoseconds end) {
    index_.clear();
    auto panes = std::exchange(panes_, {});
    for (auto& pane : panes) {
      // A named window: built as a temporary from structured bindings
      // inside the co_await, GCC 12 freed its items twice.
      keyed_window<K, T> w{std::move(pane.first), start, end,
                           std::move(pane.second)};
      if (!co_await out.send(std::move(w)))
        co_return false;
    }
    co_return true;
  }

private:
  std::unordered_map<K, size_t> index_;
  std::vector<std::pair<K, std::vector<T>>> panes_;
};

/// Wraps an item for its lane (processing time: nothing else to say).
struct wrap_keyed {
  template <class K, class T>
  std::optional<keyed_item<K, T>> operator()(K&& key, T&& x) const {
    return keyed_item<K, T>{std::move(key), std::move(x), {}, {}};
  }
};

/// Wraps an item for its lane with its event time and the watermark, in the
/// scatter, which sees every item in order: the watermark is the latest
/// item time so far minus `lateness`. An item whose window ended at or
/// before the watermark is late: `on_late` gets it, and no lane.
template <class T, class TimeOf>
struct wrap_event_time {
  std::chrono::nanoseconds d;
  std::chrono::nanoseconds lateness;
  TimeOf time_of;
  std::function<void(const T&)> on_late;
  std::optional<std::chrono::nanoseconds> latest = std::nullopt;

  template <class K>
  std::optional<keyed_item<K, T>> operator()(K&& key, T&& x) {
    std::chrono::nanoseconds t = time_of(std::as_const(x));
    auto end = (event_window_index(t, d) + 1) * d.count();
    if (latest && end <= (*latest - lateness).count()) {
      if (on_late)
        on_late(x);
      return std::nullopt;
    }
    if (!latest || t > *latest)
      latest = t;
    return keyed_item<K, T>{std::move(key), std::move(x), t,
                            *latest - lateness};
  }
};

/// A lane of `key_by(key).event_tumbling(...)`: holds the open windows of
/// its keys and sends those that ended at or before the watermark the
/// latest item brought, in order of start (and per window in order of the
/// keys' first items). The end of the stream sends the rest.
template <class K, class T>
task<> keyed_event_windows(receiver<keyed_item<K, T>>& in,
                           sender<keyed_window<K, T>>& out,
                           std::chrono::nanoseconds d) {
  using ns = std::chrono::nanoseconds;
  std::map<int64_t, key_panes<K, T>> open; // by window index
  auto send_until = [&](std::optional<ns> watermark) -> task<bool> {
    while (!open.empty()) {
      auto first = open.begin();
      ns start{first->first * d.count()};
      if (watermark && start + d > *watermark)
        break;
      if (!co_await first->second.send_all(out, start, start + d))
        co_return false;
      open.erase(first);
    }
    co_return true;
  };
  while (auto x = co_await in.recv()) {
    open[event_window_index(x->time, d)].add(std::move(x->key),
                                             std::move(x->item));
    if (!co_await send_until(x->watermark))
      co_return;
  }
  (void)co_await send_until(std::nullopt);
}

/// A lane of `key_by(key).tumbling(d)`: windows of `d` on the run's clock,
/// from `origin` (the same for every lane). A window sends its keys' items
/// at its end, or at the end of the stream.
template <class K, class T>
task<> keyed_time_windows(receiver<keyed_item<K, T>>& in,
                          sender<keyed_window<K, T>>& out,
                          clock::time_point origin, clock::duration d) {
  timer tick{[&in] {
    in.interrupt_recv();
  }};
  auto since_epoch = [](clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
      t.time_since_epoch());
  };
  key_panes<K, T> panes;
  clock::time_point end{};
  auto emit = [&] {
    tick.disarm();
    return panes.send_all(out, since_epoch(end - d), since_epoch(end));
  };
  for (;;) {
    auto x = co_await in.recv();
    // The window ended (perhaps while this coroutine waited for credit, or
    // before the timer's tick came): it leaves before the next item.
    auto fired = tick.take_fired();
    if (!panes.empty() && (fired || (x && tick.now() >= end))
        && !co_await emit())
      co_return;
    if (!x) {
      if (fired)
        continue; // woken by the timer; the stream may go on
      break;      // end of stream
    }
    if (panes.empty()) {
      end = window_end(origin, d, tick.now());
      tick.arm(end);
    }
    panes.add(std::move(x->key), std::move(x->item));
  }
  if (!panes.empty())
    (void)co_await emit();
}

} // namespace actorflow::detail
