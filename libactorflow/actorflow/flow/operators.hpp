// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The one-actor stages of `flow<T>`, defined out of line: then, filter,
// inspect, take, take_while, enumerate, flat_map, batch (by count, or by
// count and time), unbatch, conflate, and the time operators tumbling,
// sliding, event_tumbling, debounce, sample, throttle and idle_timeout.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/apply.hpp"
#include "actorflow/flow/detail/stage_loops.hpp"
#include "actorflow/flow/detail/stage_traits.hpp"
#include "actorflow/flow/detail/time_loops.hpp"
#include "actorflow/flow/plumbing.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow {

// Definitions only: their documentation is on the declarations in
// flow_decl.hpp (doxygen 1.9 does not match member templates defined out of
// line, so it is kept away from these).
/// @cond
template <class T>
template <class F>
auto flow<T>::then(F f, stage_options so) && {
  using call = detail::stage_call<F, T>;
  static_assert(call::invocable,
                "then(f): f must be callable with the stream's item type "
                "T (by value or const reference)");
  static_assert(!call::foreign,
                "then(f): f returns an awaitable that is not "
                "actorflow::task<U>; make f a coroutine returning task<U> "
                "that co_awaits it");
  using U = typename call::value;
  static_assert(!std::is_void_v<U>,
                "then(f): f must return a value (use for_each or inspect "
                "for side effects only)");
  if constexpr (!call::invocable || call::foreign || std::is_void_v<U>) {
    return flow<T>{}; // not reached: a static_assert above failed
  } else {
    if (so.concurrency > 1 && !call::coroutine)
      return flow<U>{nullptr,
                     make_error(error_code::invalid_argument,
                                "then(f): concurrency > 1 needs a coroutine "
                                "f returning task<U> (a synchronous f "
                                "runs one call at a time; use "
                                "parallel_then)")};
    auto channel_so = so;
    channel_so.concurrency = 0; // handled here, not by stage()
    return std::move(*this).template stage<U>(
      "then", std::move(channel_so),
      [f = std::move(f), so](receiver<T> in, sender<U> out) mutable -> task<> {
        co_await detail::map_items(so, f, in, out);
      });
  }
}

template <class T>
template <class F>
flow<T> flow<T>::filter(F pred, stage_options so) && {
  constexpr bool callable = std::is_invocable_v<F&, const T&>;
  static_assert(callable, "filter(pred): pred must be callable with const "
                          "T& (T: the stream's item type)");
  constexpr bool ok = std::is_invocable_r_v<bool, F&, const T&>;
  static_assert(!callable || ok,
                "filter(pred): pred must be callable with const T& and "
                "return something convertible to bool");
  if constexpr (!ok)
    return flow<T>{}; // not reached: a static_assert above failed
  else
    return std::move(*this).template stage<T>(
      "filter", so,
      [pred = std::move(pred), so](receiver<T> in,
                                   sender<T> out) mutable -> task<> {
        size_t index = 0;
        auto step = [&](T&& x) {
          auto keep = detail::apply_at(so, index++, pred, std::as_const(x));
          return keep && static_cast<bool>(*keep)
                   ? std::optional<T>{std::move(x)}
                   : std::optional<T>{};
        };
        co_await detail::map_stage(in, out, step);
      });
}

template <class T>
template <class F>
flow<T> flow<T>::inspect(F f, stage_options so) && {
  constexpr bool callable = std::is_invocable_v<F&, const T&>;
  static_assert(callable, "inspect(f): f must be callable with const T&");
  using raw = typename detail::body_result<callable, F, const T>::type;
  constexpr bool ok = callable && !detail::is_task<raw>::value;
  static_assert(!callable || ok,
                "inspect(f): f must be synchronous (a coroutine returning "
                "task<U> is for then, parallel_then and route_by_key)");
  if constexpr (!ok)
    return flow<T>{}; // not reached: a static_assert above failed
  else
    return std::move(*this).template stage<T>(
      "inspect", so,
      [f = std::move(f), so](receiver<T> in, sender<T> out) mutable -> task<> {
        size_t index = 0;
        auto step = [&](T&& x) {
          auto seen = detail::apply_at(so, index++, f, std::as_const(x));
          return seen ? std::optional<T>{std::move(x)} : std::optional<T>{};
        };
        co_await detail::map_stage(in, out, step);
      });
}

template <class T>
flow<T> flow<T>::take(size_t k, stage_options so) && {
  return std::move(*this).template stage<T>(
    "take", so, [k](receiver<T> in, sender<T> out) -> task<> {
      for (size_t n = 0; n < k; ++n) {
        auto x = co_await in.recv();
        if (!x || !co_await out.send(std::move(*x)))
          co_return;
      }
    });
}

template <class T>
template <class F>
flow<T> flow<T>::take_while(F pred, stage_options so) && {
  constexpr bool callable = std::is_invocable_v<F&, const T&>;
  static_assert(callable, "take_while(pred): pred must be callable with "
                          "const T& (T: the stream's item type)");
  constexpr bool ok = std::is_invocable_r_v<bool, F&, const T&>;
  static_assert(!callable || ok,
                "take_while(pred): pred must be callable with const T& "
                "and return something convertible to bool");
  if constexpr (!ok)
    return flow<T>{}; // not reached: a static_assert above failed
  else
    return std::move(*this).template stage<T>(
      "take_while", so,
      [pred = std::move(pred), so](receiver<T> in,
                                   sender<T> out) mutable -> task<> {
        size_t index = 0;
        while (auto x = co_await in.recv()) {
          auto keep = detail::apply_at(so, index++, pred, std::as_const(*x));
          if (!keep)
            continue; // skipped
          if (!static_cast<bool>(*keep) || !co_await out.send(std::move(*x)))
            co_return;
        }
      });
}

template <class T>
flow<std::pair<uint64_t, T>> flow<T>::enumerate(stage_options so) && {
  using U = std::pair<uint64_t, T>;
  return std::move(*this).template stage<U>(
    "enumerate", so, [](receiver<T> in, sender<U> out) -> task<> {
      for (uint64_t i = 0;; ++i) {
        auto x = co_await in.recv();
        if (!x)
          co_return;
        U y{i, std::move(*x)}; // named: see key_panes::send_all
        if (!co_await out.send(std::move(y)))
          co_return;
      }
    });
}

template <class T>
template <class F>
auto flow<T>::flat_map(F f, stage_options so) && {
  constexpr bool invocable = std::is_invocable_v<F&, T&&>;
  static_assert(invocable,
                "flat_map(f): f must be callable with the stream's item "
                "type T and return a range");
  using raw = typename detail::body_result<invocable, F, T>::type;
  constexpr bool sync = !detail::is_task<raw>::value;
  static_assert(!invocable || sync,
                "flat_map(f): f must be synchronous (a coroutine returning "
                "task<U> is for then, parallel_then and route_by_key)");
  using range = typename detail::stage_value<raw>::type;
  constexpr bool is_range = detail::is_range<range>::value;
  static_assert(!invocable || !sync || is_range,
                "flat_map(f): f must return a range (a container, or "
                "anything std::begin and std::end accept)");
  if constexpr (!invocable || !sync || !is_range) {
    return flow<T>{}; // not reached: a static_assert above failed
  } else {
    using U = std::decay_t<decltype(*std::begin(std::declval<range&>()))>;
    return std::move(*this).template stage<U>(
      "flat_map", so,
      [f = std::move(f), so](receiver<T> in, sender<U> out) mutable -> task<> {
        size_t index = 0;
        while (auto x = co_await in.recv()) {
          auto ys = detail::apply_at(so, index++, f, std::move(*x));
          if (!ys)
            continue;
          for (auto& y : *ys)
            if (!co_await out.send(U(std::move(y))))
              co_return;
        }
      });
  }
}

template <class T>
flow<std::vector<T>> flow<T>::batch(size_t k, stage_options so) && {
  using U = std::vector<T>;
  if (k == 0)
    return flow<U>{nullptr,
                   make_error(error_code::invalid_argument,
                              "batch(0): a batch holds at least one item")};
  return std::move(*this).template stage<U>(
    "batch", so, [k](receiver<T> in, sender<U> out) -> task<> {
      U buf;
      buf.reserve(k);
      while (auto x = co_await in.recv()) {
        buf.push_back(std::move(*x));
        if (buf.size() == k) {
          if (!co_await out.send(std::exchange(buf, U{})))
            co_return;
          buf.reserve(k);
        }
      }
      if (!buf.empty())
        (void)co_await out.send(std::move(buf));
    });
}

template <class T>
template <class Rep, class Period>
flow<std::vector<T>> flow<T>::batch(
  size_t k, std::chrono::duration<Rep, Period> max_delay, stage_options so) && {
  using U = std::vector<T>;
  if (k == 0)
    return flow<U>{nullptr,
                   make_error(error_code::invalid_argument,
                              "batch(0, max_delay): a batch holds at least "
                              "one item")};
  auto delay = detail::positive_duration(max_delay,
                                         "batch(k, max_delay): max_delay");
  if (!delay)
    return flow<U>{nullptr, std::move(delay.error())};
  return std::move(*this).template stage<U>(
    "batch", so, [k, d = *delay](receiver<T> in, sender<U> out) -> task<> {
      co_await detail::collect_in_time<false>(
        in, out, k,
        [d](clock::time_point, clock::time_point first) { return first + d; });
    });
}

template <class T>
template <class Rep, class Period>
flow<std::vector<T>> flow<T>::tumbling(std::chrono::duration<Rep, Period> d,
                                       stage_options so) && {
  using U = std::vector<T>;
  auto len = detail::positive_duration(d, "tumbling(d): d");
  if (!len)
    return flow<U>{nullptr, std::move(len.error())};
  return std::move(*this).template stage<U>(
    "tumbling", so, [d = *len](receiver<T> in, sender<U> out) -> task<> {
      co_await detail::collect_in_time<true>(
        in, out, std::numeric_limits<size_t>::max(),
        [d](clock::time_point origin, clock::time_point first) {
          return detail::window_end(origin, d, first);
        });
    });
}

template <class T>
template <class Rep, class Period, class Rep2, class Period2>
flow<std::vector<T>> flow<T>::sliding(std::chrono::duration<Rep, Period> d,
                                      std::chrono::duration<Rep2, Period2> step,
                                      stage_options so) && {
  static_assert(std::is_copy_constructible_v<T>,
                "sliding(d, step): an item is in several windows, so the "
                "item type must be copyable (tumbling(d) moves)");
  using U = std::vector<T>;
  auto len = detail::positive_duration(d, "sliding(d, step): d");
  if (!len)
    return flow<U>{nullptr, std::move(len.error())};
  auto hop = detail::positive_duration(step, "sliding(d, step): step");
  if (!hop)
    return flow<U>{nullptr, std::move(hop.error())};
  if (*hop > *len)
    return flow<U>{nullptr, make_error(error_code::invalid_argument,
                                       "sliding(d, step): a step longer than "
                                       "d would drop the items between the "
                                       "windows")};
  return std::move(*this).template stage<U>(
    "sliding", so,
    [d = *len, step = *hop](receiver<T> in, sender<U> out) -> task<> {
      co_await detail::slide_windows(in, out, d, step);
    });
}

template <class T>
template <class F>
flow<event_window<T>> flow<T>::event_tumbling(
  std::chrono::nanoseconds d, F time_of, std::chrono::nanoseconds lateness,
  std::function<void(const T&)> on_late, stage_options so) && {
  static_assert(
    std::is_invocable_v<
      F&,
      const T&> && std::is_convertible_v<std::invoke_result_t<F&, const T&>, std::chrono::nanoseconds>,
    "event_tumbling(d, time_of): time_of must be callable with "
    "const T& and return the item's time as a std::chrono "
    "duration (since any fixed epoch)");
  using U = event_window<T>;
  auto len = detail::positive_duration(d, "event_tumbling(d, time_of): d");
  if (!len)
    return flow<U>{nullptr, std::move(len.error())};
  if (lateness < lateness.zero())
    return flow<U>{nullptr, make_error(error_code::invalid_argument,
                                       "event_tumbling: lateness must not be "
                                       "negative")};
  return std::move(*this).template stage<U>(
    "event_tumbling", so,
    [d = *len, time_of, lateness, on_late = std::move(on_late)](
      receiver<T> in, sender<U> out) mutable -> task<> {
      co_await detail::event_windows(in, out, d, time_of, lateness, on_late);
    });
}

template <class T>
template <class Rep, class Period>
flow<T> flow<T>::debounce(std::chrono::duration<Rep, Period> quiet,
                          stage_options so) && {
  auto d = detail::positive_duration(quiet, "debounce(quiet): quiet");
  if (!d)
    return flow<T>{nullptr, std::move(d.error())};
  return std::move(*this).template stage<T>(
    "debounce", so, [d = *d](receiver<T> in, sender<T> out) -> task<> {
      co_await detail::send_latest(
        in, out,
        [d](clock::time_point, clock::time_point now,
            bool) -> std::optional<clock::time_point> { return now + d; });
    });
}

template <class T>
template <class Rep, class Period>
flow<T> flow<T>::sample(std::chrono::duration<Rep, Period> period,
                        stage_options so) && {
  auto d = detail::positive_duration(period, "sample(period): period");
  if (!d)
    return flow<T>{nullptr, std::move(d.error())};
  return std::move(*this).template stage<T>(
    "sample", so, [d = *d](receiver<T> in, sender<T> out) -> task<> {
      co_await detail::send_latest(
        in, out,
        [d](clock::time_point origin, clock::time_point now,
            bool held) -> std::optional<clock::time_point> {
          if (held)
            return std::nullopt; // the period's end is set already
          return detail::window_end(origin, d, now);
        });
    });
}

template <class T>
template <class Rep, class Period>
flow<T> flow<T>::throttle(size_t n, std::chrono::duration<Rep, Period> per,
                          size_t burst, stage_options so) && {
  if (n == 0)
    return flow<T>{nullptr, make_error(error_code::invalid_argument,
                                       "throttle(0, per): n must be at least "
                                       "1 item")};
  auto len = detail::positive_duration(per, "throttle(n, per): per");
  if (!len)
    return flow<T>{nullptr, std::move(len.error())};
  auto spacing = *len / static_cast<clock::duration::rep>(n);
  if (spacing <= clock::duration::zero())
    spacing = clock::duration{1};
  if (burst == 0)
    burst = n;
  return std::move(*this).template stage<T>(
    "throttle", so, [spacing, burst](receiver<T> in, sender<T> out) -> task<> {
      co_await detail::throttle_items(in, out, spacing, burst);
    });
}

template <class T>
template <class Rep, class Period>
flow<T> flow<T>::idle_timeout(std::chrono::duration<Rep, Period> d,
                              stage_options so) && {
  auto len = detail::positive_duration(d, "idle_timeout(d): d");
  if (!len)
    return flow<T>{nullptr, std::move(len.error())};
  return std::move(*this).template stage<T>(
    "idle_timeout", so, [d = *len](receiver<T> in, sender<T> out) -> task<> {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d);
      co_await detail::fail_when_idle(in, out, d,
                                      "no item came for "
                                        + std::to_string(ms.count())
                                        + " ms (idle_timeout)");
    });
}

template <class T>
template <class F>
flow<T> flow<T>::conflate(F merge, stage_options so) && {
  static_assert(std::is_invocable_r_v<T, F&, T, T>,
                "conflate(merge): merge must be callable as merge(T held, T "
                "x) and return the merged T");
  return std::move(*this).template stage<T>(
    "conflate", so, [merge](receiver<T> in, sender<T> out) mutable -> task<> {
      co_await detail::conflate_items(in, out, merge);
    });
}

template <class T>
auto flow<T>::unbatch(stage_options so) && {
  return std::move(*this).flat_map([](T xs) { return xs; }, so);
}

/// @endcond

} // namespace actorflow
