// This file is part of actorflow. See README.md for the project's license.

#pragma once

// `flow<T>::key_by(n, key)`: a keyed stream, whose windows are per key. The
// scatter of route_by_key sends every item to one of `n` lanes by its key,
// and each lane keeps the windows of its keys; the lanes write into copies
// of the stage's output sender, so the channel into the next stage is the
// gather.

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/keyed_loops.hpp"
#include "actorflow/flow/keyed_window.hpp"
#include "actorflow/flow/plumbing.hpp"
#include "actorflow/flow/route_by_key.hpp"

namespace actorflow {

namespace detail {

/// Explains a key function of the wrong shape.
template <class T, class K>
constexpr void check_key() {
  using key_t = key_of_t<T, K>;
  static_assert(std::is_invocable_v<K&, const T&>,
                "key_by(n, key): key must be callable with const T&");
  static_assert(std::is_invocable_v<std::hash<key_t>&, const key_t&>,
                "key_by(n, key): the key type must be hashable with "
                "std::hash");
  static_assert(std::equality_comparable<key_t>,
                "key_by(n, key): the key type must be comparable with ==");
}

} // namespace detail

/// A stream of `T` split by key: `flow<T>::key_by(n, key)`. Its windows
/// collect the items of each key apart, in `n` worker actors that each own
/// some keys (so per-key order holds and the keys spread over cores).
///
/// ~~~
/// using namespace std::chrono_literals;
/// clicks.key_by(4, [](const click& c) { return c.page; })
///   .tumbling(10s) // keyed_window<std::string, click> per page and 10 s
///   .for_each([](auto w) { report(w.key, w.items.size()); });
/// ~~~
template <class T, class K>
class [[nodiscard]] keyed_flow {
public:
  /// The type of the keys.
  using key_type = detail::key_of_t<T, K>;

  /// A window of the items of one key.
  using window_type = keyed_window<key_type, T>;

  /// @private Made by `flow<T>::key_by`.
  keyed_flow(flow<T> up, K key, std::optional<size_t> n)
    : up_(std::move(up)), key_(std::move(key)), n_(n) {
    // nop
  }

  /// Windows of `d` on the run's clock (processing time), per key: every
  /// `d` from when the pipeline was built, one `keyed_window` per key that
  /// had items in it, sent at the window's end (its `start` and `end` count
  /// from the clock's epoch). The end of the stream closes the last windows
  /// early. A `d` of zero or less is an error.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// orders.key_by(4, account_of).tumbling(1s).then(sum_per_account);
  /// ~~~
  template <class Rep, class Period>
  flow<window_type> tumbling(std::chrono::duration<Rep, Period> d,
                             stage_options so = {}) &&;

  /// Tumbling windows of `d` by the items' own times (event time), per key:
  /// `time_of(const T&)` gives an item's time as a duration since any fixed
  /// epoch. The watermark is the latest item time of the whole stream minus
  /// `lateness`. An item whose window ended at or before the watermark when
  /// it came is late: it goes to `on_late` (called in the stage's scatter)
  /// and into no window. Every other item lands in its key's window, and a
  /// window leaves once an item that reaches the same worker brings a
  /// watermark past the window's end, or at the end of the stream: a key
  /// whose worker gets no newer items holds its window until then. Windows
  /// of one worker leave in order of start. A `d` of zero or less and a
  /// negative `lateness` are errors.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// clicks.key_by(4, [](const click& c) { return c.page; })
  ///   .event_tumbling(1min, [](const click& c) { return c.at; }, 10s)
  ///   .for_each([](auto w) { report(w.key, w.start, w.items.size()); });
  /// ~~~
  template <class F>
  flow<window_type> event_tumbling(std::chrono::nanoseconds d, F time_of,
                                   std::chrono::nanoseconds lateness = {},
                                   std::function<void(const T&)> on_late
                                   = nullptr,
                                   stage_options so = {}) &&;

private:
  /// Spawns the scatter (with `wrap`) and a lane per worker running
  /// `lane(receiver<keyed_item>, sender<window_type>)`.
  template <class Wrap, class Lane>
  flow<window_type> wire(const char* op, Wrap wrap, Lane lane,
                         stage_options so) &&;

  flow<T> up_;
  K key_;
  std::optional<size_t> n_;
};

// Definitions only: their documentation is on the declarations.
/// @cond
template <class T>
template <class K>
keyed_flow<T, K> flow<T>::key_by(size_t n, K key) && {
  detail::check_key<T, K>();
  return keyed_flow<T, K>{std::move(*this), std::move(key), n};
}

template <class T>
template <class K>
keyed_flow<T, K> flow<T>::key_by(K key) && {
  detail::check_key<T, K>();
  return keyed_flow<T, K>{std::move(*this), std::move(key), std::nullopt};
}

template <class T, class K>
template <class Wrap, class Lane>
auto keyed_flow<T, K>::wire(const char* op, Wrap wrap, Lane lane,
                            stage_options so) && -> flow<window_type> {
  using U = window_type;
  using L = detail::keyed_item<key_type, T>;
  if (n_ && *n_ == 0)
    return flow<U>{nullptr,
                   make_error(error_code::invalid_argument,
                              "key_by(0, key): needs at least one worker")};
  auto up = std::move(up_).release(); // an error also for a moved-from flow
  if (up.second)
    return flow<U>{nullptr, std::move(up.second)};
  return flow<U>{[build = std::move(up.first), key = std::move(key_), n = n_,
                  op, wrap = std::move(wrap), lane = std::move(lane),
                  so](detail::build_context& ctx, sender<U> out) {
    detail::wire_route<key_type, T, L>(ctx, build, op, key, wrap, lane(ctx), so,
                                       n, std::move(out));
  }};
}

template <class T, class K>
template <class Rep, class Period>
auto keyed_flow<T, K>::tumbling(std::chrono::duration<Rep, Period> d,
                                stage_options so) && -> flow<window_type> {
  using L = detail::keyed_item<key_type, T>;
  auto len = detail::positive_duration(d, "key_by(key).tumbling(d): d");
  if (!len)
    return flow<window_type>{nullptr, std::move(len.error())};
  // Every lane counts its windows from the same origin: the time of build.
  auto lane = [d = *len](detail::build_context& ctx) {
    auto clk = ctx.opts.clock ? ctx.opts.clock : steady_clock();
    return [d, origin = clk->now()](receiver<L> in,
                                    sender<window_type> out) -> task<> {
      co_await detail::keyed_time_windows(in, out, origin, d);
    };
  };
  return std::move(*this).wire("key_by.tumbling", detail::wrap_keyed{},
                               std::move(lane), std::move(so));
}

template <class T, class K>
template <class F>
auto keyed_flow<T, K>::event_tumbling(
  std::chrono::nanoseconds d, F time_of, std::chrono::nanoseconds lateness,
  std::function<void(const T&)> on_late,
  stage_options so) && -> flow<window_type> {
  static_assert(
    std::is_invocable_v<
      F&,
      const T&> && std::is_convertible_v<std::invoke_result_t<F&, const T&>, std::chrono::nanoseconds>,
    "key_by(key).event_tumbling(d, time_of): time_of must be callable "
    "with const T& and return the item's time as a std::chrono duration "
    "(since any fixed epoch)");
  using L = detail::keyed_item<key_type, T>;
  auto len = detail::positive_duration(d, "key_by(key).event_tumbling(d, "
                                          "time_of): d");
  if (!len)
    return flow<window_type>{nullptr, std::move(len.error())};
  if (lateness < lateness.zero())
    return flow<window_type>{nullptr,
                             make_error(error_code::invalid_argument,
                                        "key_by(key).event_tumbling: "
                                        "lateness must not be negative")};
  auto lane = [d = *len](detail::build_context&) {
    return [d](receiver<L> in, sender<window_type> out) -> task<> {
      co_await detail::keyed_event_windows(in, out, d);
    };
  };
  detail::wrap_event_time<T, F> wrap{*len, lateness, std::move(time_of),
                                     std::move(on_late), std::nullopt};
  return std::move(*this).wire("key_by.event_tumbling", std::move(wrap),
                               std::move(lane), std::move(so));
}
/// @endcond

} // namespace actorflow
