// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The loops of the time operators: stage bodies that wait for an item or a
// time on the host's clock, whichever comes first (see detail/timer.hpp).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "actorflow/clock.hpp"
#include "actorflow/detail/timer.hpp"
#include "actorflow/error.hpp"
#include "actorflow/flow/event_window.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow::detail {

/// `d` in the clock's unit, or an error naming `what` if it is not positive.
template <class Rep, class Period>
caf::expected<clock::duration> positive_duration(
  std::chrono::duration<Rep, Period> d, const char* what) {
  if (d <= d.zero())
    return make_error(error_code::invalid_argument,
                      std::string{what} + " must be positive");
  return std::chrono::ceil<clock::duration>(d);
}

/// Wakes a coroutine waiting in `pause.until` once every receiver of `out`
/// is gone (nobody wants its items any more), for as long as it lives.
template <class T>
class wake_when_gone {
public:
  wake_when_gone(sender<T>& out, timer& pause) : out_(out) {
    out_.on_receivers_gone([&pause] { pause.interrupt(); });
  }

  wake_when_gone(const wake_when_gone&) = delete;
  wake_when_gone& operator=(const wake_when_gone&) = delete;

  ~wake_when_gone() {
    out_.on_receivers_gone(nullptr);
  }

private:
  sender<T>& out_;
};

/// The end of the window of length `d` that holds `t`, windows starting at
/// `origin` (a time at `origin + i * d` starts the next window).
inline clock::time_point window_end(clock::time_point origin, clock::duration d,
                                    clock::time_point t) {
  return origin + ((t - origin) / d + 1) * d;
}

/// The index of the event-time window of length `d` that holds `t`:
/// windows start at multiples of `d` since the epoch of the items' clock.
inline int64_t event_window_index(std::chrono::nanoseconds t,
                                  std::chrono::nanoseconds d) noexcept {
  auto q = t.count() / d.count();
  return t.count() % d.count() < 0 ? q - 1 : q; // floor
}

/// Collects items into vectors of up to `k`. A vector leaves when it is
/// full, when the clock reaches `due(origin, first)` (`first`: when its first
/// item came, `origin`: when the stage started), or at the end of the
/// stream. `batch(k, max_delay)` is due `max_delay` after its first item;
/// `tumbling(d)` at the end of the window that holds its first item. With
/// `Aligned`, an item that comes at or after that time (before the timer's
/// tick did) starts the next vector, which costs a clock read per item.
template <bool Aligned, class T, class Due>
task<> collect_in_time(receiver<T>& in, sender<std::vector<T>>& out, size_t k,
                       Due due) {
  timer deadline{[&in] {
    in.interrupt_recv();
  }};
  auto origin = deadline.now();
  clock::time_point until{};
  std::vector<T> buf;
  auto reserve = [&] {
    buf.reserve(std::min(k, size_t{4096})); // k may be "no limit"
  };
  reserve();
  auto emit = [&] {
    deadline.disarm();
    return out.send(std::exchange(buf, std::vector<T>{}));
  };
  for (;;) {
    auto x = co_await in.recv();
    // The time of the vector came (perhaps while this coroutine waited for
    // credit): it leaves before the next item.
    auto fired = deadline.take_fired();
    if constexpr (Aligned)
      fired = fired || (x && !buf.empty() && deadline.now() >= until);
    if (fired) {
      if (!buf.empty()) {
        if (!co_await emit())
          co_return;
        reserve();
      }
      if (!x)
        continue; // woken by the timer; the stream may go on
    }
    if (!x)
      break; // end of stream (recv yields nothing again and again there)
    if (buf.empty()) {
      until = due(origin, deadline.now());
      deadline.arm(until);
    }
    buf.push_back(std::move(*x));
    if (buf.size() == k) {
      if (!co_await emit())
        co_return;
      reserve();
    }
  }
  deadline.disarm();
  if (!buf.empty())
    (void)co_await out.send(std::move(buf));
}

/// `sliding(d, step)`: at every `origin + j * step` (j >= 1) the items that
/// came within the last `d` leave as one vector, in order; a window without
/// items sends nothing. Holds the items of the last `d`, copied into every
/// window they fall in.
template <class T>
task<> slide_windows(receiver<T>& in, sender<std::vector<T>>& out,
                     clock::duration d, clock::duration step) {
  timer tick{[&in] {
    in.interrupt_recv();
  }};
  auto origin = tick.now();
  auto end = origin; // of the next window to emit, once items are held
  std::deque<std::pair<clock::time_point, T>> held;
  // Sends every window that ended by `now` and holds items.
  auto catch_up = [&](clock::time_point now) -> task<bool> {
    while (!held.empty() && end <= now) {
      std::vector<T> xs;
      for (auto& [t, x] : held)
        if (t >= end - d)
          xs.push_back(x);
      if (!xs.empty() && !co_await out.send(std::move(xs)))
        co_return false;
      end += step;
      while (!held.empty() && held.front().first < end - d)
        held.pop_front();
    }
    co_return true;
  };
  for (;;) {
    auto x = co_await in.recv();
    auto fired = tick.take_fired();
    auto now = tick.now();
    if (!held.empty() && end <= now) {
      tick.disarm();
      if (!co_await catch_up(now))
        co_return;
      fired = true;
    }
    if (x) {
      if (held.empty())
        end = window_end(origin, step, now);
      held.emplace_back(now, std::move(*x));
    } else if (!fired) {
      break; // end of stream (not a wake-up by the timer)
    }
    if (!held.empty() && !tick.armed())
      tick.arm(end);
  }
  tick.disarm();
  // The end of the stream closes the windows that hold items, early.
  (void)co_await catch_up(clock::time_point::max());
}

/// `event_tumbling(d, time_of, lateness, on_late)`: windows of `d` by the
/// items' own times. The watermark is the latest item time seen minus
/// `lateness`; a window leaves once the watermark passed its end, in order
/// of start. An item for a window that left already is late: `on_late` gets
/// it (if set) and the windows do not. The end of the stream sends the open
/// windows. Reads no clock.
template <class T, class TimeOf>
task<> event_windows(receiver<T>& in, sender<event_window<T>>& out,
                     std::chrono::nanoseconds d, TimeOf& time_of,
                     std::chrono::nanoseconds lateness,
                     const std::function<void(const T&)>& on_late) {
  using ns = std::chrono::nanoseconds;
  std::map<int64_t, std::vector<T>> open; // by window index
  std::optional<ns> latest;               // latest item time seen
  std::optional<int64_t> closed;          // windows up to this index left
  // The first open window, if the watermark passed its end (always at the
  // end of the stream).
  auto next_due = [&](bool at_end) -> std::optional<event_window<T>> {
    if (open.empty())
      return std::nullopt;
    auto first = open.begin();
    auto start = ns{first->first * d.count()};
    if (!at_end && start + d > *latest - lateness)
      return std::nullopt;
    event_window<T> w{start, start + d, std::move(first->second)};
    closed = first->first;
    open.erase(first);
    return w;
  };
  while (auto x = co_await in.recv()) {
    ns t = time_of(std::as_const(*x));
    auto w = event_window_index(t, d);
    if (closed && w <= *closed) {
      if (on_late)
        on_late(*x);
      continue;
    }
    open[w].push_back(std::move(*x));
    if (latest && t <= *latest)
      continue; // the watermark stays
    latest = t;
    while (auto due = next_due(false))
      if (!co_await out.send(std::move(*due)))
        co_return;
  }
  while (auto due = next_due(true))
    if (!co_await out.send(std::move(*due)))
      co_return;
}

/// Holds the latest item and sends it when its time comes: after an item
/// came at `now`, `due(origin, now, held)` says when the held item leaves
/// (`origin`: when the stage started; `held`: an older item was waiting),
/// or nothing to keep the time already set. The held item also leaves at
/// the end of the stream.
///
/// - `debounce(quiet)`: `now + quiet` after every item, so an item leaves
///   once `quiet` passed without a newer one;
/// - `sample(period)`: the end of the period holding `now`, set by the
///   first item of a period, so the latest item of each period leaves at
///   its end.
template <class T, class Due>
task<> send_latest(receiver<T>& in, sender<T>& out, Due due) {
  timer tick{[&in] {
    in.interrupt_recv();
  }};
  auto origin = tick.now();
  std::optional<T> latest;
  for (;;) {
    auto x = co_await in.recv();
    auto fired = tick.take_fired();
    if (fired && latest) {
      if (!co_await out.send(std::move(*latest)))
        co_return;
      latest.reset();
    }
    if (!x) {
      if (fired)
        continue; // woken by the timer; the stream may go on
      break;
    }
    if (auto at = due(origin, tick.now(), latest.has_value()))
      tick.arm(*at);
    latest = std::move(*x);
  }
  tick.disarm();
  if (latest)
    (void)co_await out.send(std::move(*latest));
}

/// `idle_timeout(d)`: passes the items on, and fails with
/// `error_code::timeout` once it waited `d` for an item (time spent waiting
/// for credit downstream does not count). Reads the clock once per item;
/// the timer fires at most once per `d`.
template <class T>
task<> fail_when_idle(receiver<T>& in, sender<T>& out, clock::duration d,
                      std::string what) {
  timer quiet{[&in] {
    in.interrupt_recv();
  }};
  auto since = quiet.now(); // waiting for input since
  quiet.arm(since + d);
  for (;;) {
    auto x = co_await in.recv();
    auto fired = quiet.take_fired();
    if (!x) {
      if (!fired)
        break; // end of stream
      if (quiet.now() - since >= d)
        throw error_exception{make_error(error_code::timeout, what)};
      quiet.arm(since + d); // items came since it was armed
      continue;
    }
    if (!co_await out.send(std::move(*x)))
      co_return;
    since = quiet.now();
    // Armed still, unless it fired before this item or during the send.
    if (fired || quiet.take_fired())
      quiet.arm(since + d);
  }
  quiet.disarm();
}

/// `throttle(n, per, burst)`: a token bucket as GCRA. Items pass one per
/// `per / n` on average; up to `burst` pass at once after a quiet spell.
template <class T>
task<> throttle_items(receiver<T>& in, sender<T>& out, clock::duration spacing,
                      size_t burst) {
  timer pause{nullptr};
  wake_when_gone wake{out, pause};
  // The theoretical arrival time of the next item: an item may pass once
  // the clock reached `tat - (burst - 1) * spacing`.
  auto tat = pause.now();
  auto slack = spacing * static_cast<clock::duration::rep>(burst - 1);
  while (auto x = co_await in.recv()) {
    auto now = pause.now();
    auto earliest = tat - slack;
    if (now < earliest) {
      co_await pause.until(earliest);
      if (out.receivers_gone())
        co_return;
      now = earliest;
    }
    tat = std::max(tat, now) + spacing;
    if (!co_await out.send(std::move(*x)))
      co_return;
  }
}

/// `interval(period)`: 0, 1, 2, ... one every `period`, the first one a
/// period after the start. Ticks that fall due while the stream holds still
/// (no credit) are dropped, not caught up in a burst; the phase stays.
inline task<> tick_every(sender<uint64_t>& out, clock::duration period) {
  timer pause{nullptr};
  wake_when_gone wake{out, pause};
  auto next = pause.now() + period;
  for (uint64_t i = 0;; ++i) {
    co_await pause.until(next);
    if (out.receivers_gone() || !co_await out.send(i))
      co_return;
    next += period;
    if (auto now = pause.now(); now >= next)
      next += ((now - next) / period + 1) * period; // skip the missed ticks
  }
}

} // namespace actorflow::detail
