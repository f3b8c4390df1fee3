// This file is part of actorflow. See README.md for the project's license.

#pragma once

// `flow<T>::route_by_key(n, key, f)`: a scatter sends every item to one of
// `n` worker lanes by the hash of `key(item)`, so that items with the same
// key meet the same worker (per-key state and per-key order hold); the
// workers write into copies of the stage's output sender, so the channel
// into the next stage is the gather.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/apply.hpp"
#include "actorflow/flow/detail/build_context.hpp"
#include "actorflow/flow/detail/stage_loops.hpp"
#include "actorflow/flow/detail/stage_traits.hpp"
#include "actorflow/flow/plumbing.hpp"

namespace actorflow {

namespace detail {

/// The key type of `key(const T&)`, or `void*` if `key` has the wrong shape
/// (a static_assert then says why).
template <class T, class K>
using key_of_t
  = std::decay_t<typename std::conditional_t<std::is_invocable_v<K&, const T&>,
                                             std::invoke_result<K&, const T&>,
                                             std::type_identity<void*>>::type>;

/// Passes an item to its lane as it is (the lanes of `route_by_key`).
struct pass_item {
  template <class Key, class T>
  std::optional<T> operator()(Key&&, T&& x) const {
    return std::optional<T>{std::move(x)};
  }
};

/// The scatter of `route_by_key` and `key_by`: sends every item to the lane
/// of its key's hash, as `wrap(key, item)` makes it (nothing: the item is
/// dropped, e.g. a late item of a keyed event-time window).
template <class Key, class T, class L, class K, class Wrap>
task<> route_scatter(K key, stage_options so, Wrap wrap, receiver<T> in,
                     std::vector<sender<L>> lanes) {
  size_t index = 0;
  while (auto x = co_await in.recv()) {
    auto k = apply_at(so, index++, key, std::as_const(*x));
    if (!k)
      continue;
    auto lane = std::hash<Key>{}(*k) % lanes.size();
    auto y = wrap(std::move(*k), std::move(*x));
    if (y && !co_await lanes[lane].send(std::move(*y)))
      co_return;
  }
}

/// A worker of `route_by_key`: maps the items of its lane into its copy of
/// the stage's output sender.
template <class F, class T, class U>
task<> route_worker(F f, stage_options so, receiver<T> lane, sender<U> out) {
  co_await map_items(so, f, lane, out);
}

/// Spawns the actors of a keyed stage between `build` (upstream) and `out`:
/// the scatter (`route_scatter` with `wrap`), and one worker per lane
/// running `lane(receiver<L>, sender<U>)`, named after `op`.
template <class Key, class T, class L, class U, class K, class Wrap, class Lane>
void wire_route(build_context& ctx, const build_fn<T>& build, const char* op,
                const K& key, const Wrap& wrap, const Lane& lane,
                const stage_options& so, std::optional<size_t> n,
                sender<U> out) {
  auto workers = worker_count(n, so, ctx);
  auto in = ctx.make_channel<T>({.capacity = so.capacity, .batch = so.batch});
  if (!in)
    return;
  std::vector<sender<L>> lanes;
  std::vector<receiver<L>> lane_rx;
  for (size_t i = 0; i < workers; ++i) {
    auto ch = ctx.make_channel<L>({.read_ahead = so.read_ahead});
    if (!ch)
      return;
    lanes.push_back(std::move(ch->tx));
    lane_rx.push_back(std::move(ch->rx));
  }
  build(ctx, std::move(in->tx));
  auto base = ctx.stage_name(op);
  ctx.spawn(base + ".scatter", &route_scatter<Key, T, L, K, Wrap>, key, so,
            wrap, std::move(in->rx), std::move(lanes));
  // The workers write into copies of `out`: the gather is the channel.
  for (size_t i = 0; i < workers; ++i)
    ctx.spawn(base + ".worker" + std::to_string(i + 1), lane,
              std::move(lane_rx[i]), sender<U>{out});
}

} // namespace detail

// Definitions only: their documentation is on the declarations in
// flow_decl.hpp (doxygen 1.9 does not match member templates defined out of
// line, so it is kept away from these).
/// @cond
template <class T>
template <class K, class F>
auto flow<T>::route_by_key(size_t n, K key, F f, stage_options so) && {
  return std::move(*this).route(n, std::move(key), std::move(f), std::move(so));
}

template <class T>
template <class K, class F>
auto flow<T>::route_by_key(K key, F f, stage_options so) && {
  return std::move(*this).route(std::nullopt, std::move(key), std::move(f),
                                std::move(so));
}

template <class T>
template <class K, class F>
auto flow<T>::route(std::optional<size_t> n, K key, F f, stage_options so) && {
  constexpr bool key_ok = std::is_invocable_v<K&, const T&>;
  static_assert(key_ok,
                "route_by_key(n, key, f): key must be callable with const T&");
  using key_t = detail::key_of_t<T, K>;
  constexpr bool hashable
    = std::is_invocable_v<std::hash<key_t>&, const key_t&>;
  static_assert(hashable, "route_by_key(n, key, f): the key type must be "
                          "hashable with std::hash");
  using call = detail::stage_call<F, T>;
  static_assert(call::invocable, "route_by_key(n, key, f): f must be callable "
                                 "with the stream's item type T");
  static_assert(!call::foreign,
                "route_by_key(n, key, f): f returns an awaitable that is not "
                "actorflow::task<U>; make f a coroutine returning task<U> "
                "that co_awaits it");
  using U = typename call::value;
  static_assert(!std::is_void_v<U>,
                "route_by_key(n, key, f): f must return a value");
  if constexpr (!key_ok || !hashable || !call::invocable || call::foreign
                || std::is_void_v<U>) {
    return flow<T>{}; // not reached: a static_assert above failed
  } else {
    if (n && *n == 0)
      return flow<U>{nullptr,
                     make_error(error_code::invalid_argument,
                                "route_by_key(0, key, f): needs at least one "
                                "worker")};
    if (so.concurrency > 1 && !call::coroutine)
      return flow<U>{nullptr,
                     make_error(error_code::invalid_argument,
                                "route_by_key(n, key, f): concurrency > 1 "
                                "needs a coroutine f returning task<U>")};
    if (err_ || !build_)
      return flow<U>{nullptr, moved_or(err_)};
    auto build = std::move(build_);
    return flow<U>{[build = std::move(build), n, key = std::move(key),
                    f = std::move(f),
                    so](detail::build_context& ctx, sender<U> out) {
      auto lane = [f, so](receiver<T> in, sender<U> out) {
        return detail::route_worker<F, T, U>(f, so, std::move(in),
                                             std::move(out));
      };
      detail::wire_route<key_t, T, T>(ctx, build, "route_by_key", key,
                                      detail::pass_item{}, lane, so, n,
                                      std::move(out));
    }};
  }
}

/// @endcond

} // namespace actorflow
