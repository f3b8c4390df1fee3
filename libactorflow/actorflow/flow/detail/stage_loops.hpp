// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#include "actorflow/flow/detail/apply.hpp"
#include "actorflow/flow/detail/ordered_calls.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow::detail {

/// Counts the items a fast-path loop moved out of `in` and reports them
/// when the loop ends, also when the stage's function throws (the failing
/// item then counts as received, as with `recv`).
template <class T>
struct taken_guard {
  receiver<T>& in;
  size_t n = 0;

  ~taken_guard() {
    in.consume_now(n);
  }
};

/// The synchronous fast path of a stage: applies `step(T&&) ->
/// std::optional<V>` to the items `in` holds now, as many as `out` takes
/// without waiting for credit, and sends the results (an empty optional
/// drops the item), at most `limit` of them. One tight loop per chunk
/// instead of a `co_await` per item; never suspends. Returns how many items
/// it took; 0 means the caller falls back to `co_await in.recv()` and
/// `co_await out.send(y)` (no input buffered, no credit, no room in the
/// window, an endpoint not bound yet, or the worker asked to stop: that
/// `recv` then throws). Like every fast path, it tests the worker's stop
/// flag before each item, so a cancelled stage makes no further call.
///
/// ~~~
/// for (;;) {
///   if (map_ready(in, out, step) > 0)
///     continue;
///   auto x = co_await in.recv(); // ... the per-item path
/// }
/// ~~~
template <class T, class U, class Step>
[[gnu::flatten]] size_t map_ready(receiver<T>& in, sender<U>& out, Step&& step,
                                  size_t limit = static_cast<size_t>(-1)) {
  auto xs = in.available_now();
  auto n = std::min({xs.size(), out.room_now(), limit});
  if (n == 0)
    return 0;
  {
    taken_guard<T> guard{in};
    auto* first = xs.data();
    auto& stop = in.stop_flag();
    while (guard.n < n) {
      if (stop.load(std::memory_order_relaxed)) [[unlikely]]
        break;
      auto y = step(std::move(first[guard.n++]));
      if (y) {
        if constexpr (std::is_same_v<std::decay_t<decltype(*y)>, U>)
          out.append_now(std::move(*y));
        else
          out.append_now(U(std::move(*y)));
      }
    }
  }
  out.commit_now();
  return n;
}

/// The loop of a synchronous stage that turns each item into at most one:
/// whole chunks through `map_ready` while input and credit are there, else
/// one item through `recv`, `step` and `send`. Ends with the input or once
/// every receiver of `out` is gone.
///
/// ~~~
/// auto step = [&](T&& x) { return std::optional<T>{x + 1}; };
/// co_await map_stage(in, out, step);
/// ~~~
template <class T, class U, class Step>
task<> map_stage(receiver<T>& in, sender<U>& out, Step& step) {
  for (;;) {
    if (map_ready(in, out, step) > 0)
      continue;
    auto x = co_await in.recv();
    if (!x)
      co_return;
    auto y = step(std::move(*x));
    if (y && !co_await out.send(std::move(*y)))
      co_return;
  }
}

/// The synchronous fast path of a sink: applies `step(T&&)` to the items
/// `in` holds now. Returns how many it took (0: fall back to `recv`).
template <class T, class Step>
[[gnu::flatten]] size_t drain_ready(receiver<T>& in, Step&& step) {
  auto xs = in.available_now();
  if (xs.empty())
    return 0;
  auto n = xs.size();
  taken_guard<T> guard{in};
  auto* first = xs.data();
  auto& stop = in.stop_flag();
  while (guard.n < n && !stop.load(std::memory_order_relaxed))
    step(std::move(first[guard.n++]));
  return n;
}

/// The fast path of a source: appends up to `n` items of `next() ->
/// std::optional<T>` to `out` (`n` at most `out.room_now()`), counting them
/// in `index`. Returns false once `next` ended the stream.
template <class T, class Next>
[[gnu::flatten]] bool produce_ready(sender<T>& out, Next& next, size_t& index,
                                    size_t n) {
  auto& stop = out.stop_flag();
  for (size_t i = 0; i < n && !stop.load(std::memory_order_relaxed); ++i) {
    std::optional<T> x;
    try {
      x = next();
    } catch (...) {
      rethrow_at(index);
    }
    if (!x) {
      out.commit_now();
      return false;
    }
    out.append_now(std::move(*x));
    ++index;
  }
  out.commit_now();
  return true;
}

/// The body of a mapping stage (then, the workers of route_by_key): applies
/// `f` to every item of `in` under the stage's error policy and sends the
/// results to `out` in input order. A coroutine `f` has up to
/// `so.concurrency` calls in flight.
template <class Options, class F, class T, class U>
task<> map_items(const Options& so, F& f, receiver<T>& in, sender<U>& out) {
  using raw = std::invoke_result_t<F&, T&&>;
  if constexpr (is_task<raw>::value) {
    if (so.concurrency > 1) {
      auto call = [&f, &so](T x, size_t index) {
        return apply_at(so, index, f, std::move(x));
      };
      using result = std::optional<applied_t<raw>>;
      ordered_calls<T, result, decltype(call)> calls{so.concurrency, in,
                                                     std::move(call)};
      co_await send_results(calls, out,
                            [](result&& y) { return std::move(y); });
      co_return;
    }
  }
  size_t index = 0;
  if constexpr (!is_task<raw>::value) {
    auto step = [&](T&& x) {
      return apply_at(so, index++, f, std::move(x));
    };
    co_await map_stage(in, out, step);
  } else {
    while (auto x = co_await in.recv()) {
      auto call = apply_at(so, index++, f, std::move(*x));
      auto y = co_await std::move(call);
      if (y && !co_await out.send(std::move(*y)))
        co_return;
    }
  }
}

/// `conflate(merge)`: an item passes at once while the downstream has
/// credit; while it has none, the items merge into one held item
/// (`merge(held, x)`), which leaves as soon as credit comes. So a fast
/// producer never waits for a slow consumer, and the stage holds one item.
template <class T, class F>
task<> conflate_items(receiver<T>& in, sender<T>& out, F& merge) {
  // The first item binds `out` (then `room_now` tells whether it has credit).
  auto first = co_await in.recv();
  if (!first || !co_await out.send(std::move(*first)))
    co_return;
  bool credited = false;
  out.on_credit([&] {
    credited = true;
    in.interrupt_recv();
  });
  struct unhook {
    sender<T>& out;
    ~unhook() {
      out.on_credit(nullptr);
    }
  } guard{out};
  std::optional<T> held;
  for (;;) {
    auto x = co_await in.recv();
    auto woken = std::exchange(credited, false);
    if (x)
      held = held ? merge(std::move(*held), std::move(*x)) : std::move(*x);
    else if (!woken)
      break; // end of stream (not a wake-up by credit)
    if (out.receivers_gone())
      co_return;
    if (held && out.room_now() > 0) {
      out.append_now(std::move(*held));
      out.commit_now();
      held.reset();
    }
  }
  if (held)
    (void)co_await out.send(std::move(*held));
}

} // namespace actorflow::detail
