// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The loops of the time operators: stage bodies that wait for an item or a
// time on the host's clock, whichever comes first (see detail/timer.hpp).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "actorflow/clock.hpp"
#include "actorflow/detail/timer.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow::detail {

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

/// `batch(k, max_delay)`: a batch leaves with `k` items, or once `max_delay`
/// passed since its first item arrived, or at the end of the stream.
template <class T>
task<> batch_in_time(receiver<T>& in, sender<std::vector<T>>& out, size_t k,
                     clock::duration max_delay) {
  timer deadline{[&in] {
    in.interrupt_recv();
  }};
  std::vector<T> buf;
  buf.reserve(k);
  auto emit = [&] {
    return out.send(std::exchange(buf, std::vector<T>{}));
  };
  for (;;) {
    auto x = co_await in.recv();
    // The time of the batch came (perhaps while this coroutine waited for
    // credit): it leaves before the next item.
    if (deadline.take_fired()) {
      if (!buf.empty()) {
        if (!co_await emit())
          co_return;
        buf.reserve(k);
      }
      if (!x)
        continue; // woken by the timer; the stream may go on
    }
    if (!x)
      break; // end of stream (recv yields nothing again and again there)
    if (buf.empty())
      deadline.arm(deadline.now() + max_delay);
    buf.push_back(std::move(*x));
    if (buf.size() == k) {
      deadline.disarm();
      if (!co_await emit())
        co_return;
      buf.reserve(k);
    }
  }
  deadline.disarm();
  if (!buf.empty())
    (void)co_await out.send(std::move(buf));
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
