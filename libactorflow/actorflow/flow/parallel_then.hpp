// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Scatter-join for the stream DSL: `parallel_then(n, f)` and
// `parallel_then_unordered(n, f)`. The data path, in one direction:
//
//   upstream -> scatter (numbers items, waits for a token per item)
//            -> n worker actors (share one work channel, demand-driven)
//            -> gather (restores order, returns one token per emitted item)
//            -> downstream
//
// A reorder gate bounds the items between scatter and gather to `window`, so
// the gather's reorder buffer never holds more than `window` items, however
// slow the item at its head is: the gather counts the items it emitted in an
// atomic shared with the scatter, the scatter dispatches item `seq` only while
// `seq - emitted < window`, and when it has to wait it parks and the gather
// wakes it with one token (on a control channel) once half the window is free.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/build_context.hpp"
#include "actorflow/flow/detail/scatter_gather.hpp"
#include "actorflow/flow/detail/stage_traits.hpp"
#include "actorflow/flow/plumbing.hpp"

namespace actorflow {

namespace detail {

/// The sizes of a parallel stage, settled when the pipeline starts.
struct parallel_sizes {
  size_t workers = 0;
  /// Most items between scatter and gather.
  size_t window = 0;
  /// The settings of the work channel (the workers' shared input).
  stage_options work;
  /// The work each worker's read-ahead adapts to (0: a fixed read-ahead).
  std::chrono::nanoseconds adapt{0};
};

/// Sizes a parallel stage from its settings and the pipeline's capacity.
inline parallel_sizes size_parallel(std::optional<size_t> n,
                                    const stage_options& so,
                                    const build_context& ctx) {
  parallel_sizes s;
  s.workers = worker_count(n, so, ctx);
  // The window defaults to four times the pipeline's channel capacity: the
  // reorder buffer needs the slack of a few worker chunks, because a parked
  // scatter only runs again once a busy worker yields its core.
  s.window = so.window != 0
               ? so.window
               : std::max<size_t>(4 * ctx.base_capacity(), 64 * s.workers);
  s.window = std::max(s.window, s.workers);
  // Unless told otherwise, workers adapt their read-ahead to about 1 ms of
  // work: dispatch stays demand-driven for slow items (a busy worker does
  // not sit on items an idle one could take), while cheap items travel in
  // large batches. A worker runs its whole read-ahead in one activation,
  // and every refill costs a few actor activations whatever the read-ahead,
  // so a longer read-ahead makes that cost a smaller share of the work. The
  // work channel's batches of up to 512 items let 1 us items fill about
  // 1 ms of read-ahead in two messages.
  auto work_batch = static_cast<uint32_t>(
    std::clamp<size_t>(s.window / (4 * s.workers), 1, 512));
  s.work = stage_options{.capacity = s.window, .batch = work_batch};
  if (so.read_ahead != 0) {
    s.work.read_ahead = so.read_ahead;
    s.work.capacity = std::max<size_t>(s.window,
                                       size_t{so.read_ahead} * s.workers);
  } else {
    s.adapt = std::chrono::milliseconds(1);
  }
  return s;
}

/// Spawns the actors of a parallel stage between `build` (upstream) and
/// `out`: scatter, `workers` workers on one work channel, gather.
template <bool Ordered, class T, class U, class F>
void wire_parallel(build_context& ctx, const build_fn<T>& build, const F& f,
                   const char* op, const stage_options& so,
                   std::optional<size_t> n, sender<U> out) {
  using job = sequenced<T>;
  using done = sequenced<maybe<U>>;
  auto sz = size_parallel(n, so, ctx);
  auto in = ctx.make_channel<T>({.capacity = so.capacity, .batch = so.batch});
  auto work = ctx.make_channel<job>(sz.work, sz.adapt);
  auto results = ctx.make_channel<done>({.capacity = sz.window});
  std::optional<channel_pair<uint8_t>> tokens;
  if constexpr (Ordered)
    tokens = ctx.make_channel<uint8_t>({.capacity = sz.window});
  if (!in || !work || !results || (Ordered && !tokens))
    return;
  if constexpr (Ordered)
    ctx.mark_control(*tokens); // not items: waiting for a token is a stall
  build(ctx, std::move(in->tx));
  auto base = ctx.stage_name(op);
  std::shared_ptr<reorder_gate> gate;
  if constexpr (Ordered) {
    gate = std::make_shared<reorder_gate>(sz.window);
    ctx.spawn(base + ".scatter", &ordered_scatter<T>, std::move(in->rx),
              std::move(tokens->rx), std::move(work->tx), gate);
  } else {
    ctx.spawn(base + ".scatter", &scatter<T>, std::move(in->rx),
              std::move(work->tx));
  }
  for (size_t i = 0; i < sz.workers; ++i)
    ctx.spawn(base + ".worker" + std::to_string(i + 1),
              &parallel_worker<F, T, U>, f, so, work->rx, results->tx);
  work->rx.close();
  results->tx.close();
  if constexpr (Ordered)
    ctx.spawn(base + ".gather", &ordered_gather<U>, std::move(results->rx),
              std::move(tokens->tx), std::move(out), std::move(gate));
  else
    ctx.spawn(base + ".gather", &unordered_gather<U>, std::move(results->rx),
              std::move(out));
}

} // namespace detail

// Definitions only: their documentation is on the declarations in
// flow_decl.hpp (doxygen 1.9 does not match member templates defined out of
// line, so it is kept away from these).
/// @cond
template <class T>
template <class F>
auto flow<T>::parallel_then(size_t n, F f, stage_options so) && {
  return std::move(*this).template scatter_gather<true>(n, std::move(f),
                                                        std::move(so));
}

template <class T>
template <class F>
auto flow<T>::parallel_then(size_t n, F f, size_t window) && {
  stage_options so;
  so.window = window;
  return std::move(*this).template scatter_gather<true>(n, std::move(f),
                                                        std::move(so));
}

template <class T>
template <class F>
auto flow<T>::parallel_then(F f, stage_options so) && {
  return std::move(*this).template scatter_gather<true>(
    std::nullopt, std::move(f), std::move(so));
}

template <class T>
template <class F>
auto flow<T>::parallel_then_unordered(size_t n, F f, stage_options so) && {
  return std::move(*this).template scatter_gather<false>(n, std::move(f),
                                                         std::move(so));
}

template <class T>
template <class F>
auto flow<T>::parallel_then_unordered(size_t n, F f, size_t window) && {
  stage_options so;
  so.window = window;
  return std::move(*this).template scatter_gather<false>(n, std::move(f),
                                                         std::move(so));
}

template <class T>
template <class F>
auto flow<T>::parallel_then_unordered(F f, stage_options so) && {
  return std::move(*this).template scatter_gather<false>(
    std::nullopt, std::move(f), std::move(so));
}

template <class T>
template <bool Ordered, class F>
auto flow<T>::scatter_gather(std::optional<size_t> n, F f,
                             stage_options so) && {
  using call = detail::stage_call<F, T>;
  static_assert(call::invocable,
                "parallel_then(n, f): f must be callable with the stream's "
                "item type T (by value or const reference)");
  static_assert(!call::foreign,
                "parallel_then(n, f): f returns an awaitable that is not "
                "actorflow::task<U>; make f a coroutine returning task<U> "
                "that co_awaits it");
  using U = typename call::value;
  static_assert(!std::is_void_v<U>,
                "parallel_then(n, f): f must return a value");
  if constexpr (!call::invocable || call::foreign || std::is_void_v<U>) {
    return flow<T>{}; // not reached: a static_assert above failed
  } else {
    const char* op = Ordered ? "parallel_then" : "parallel_then_unordered";
    if (n && *n == 0)
      return flow<U>{
        nullptr,
        make_error(error_code::invalid_argument,
                   std::string{op} + "(0, f): needs at least one worker")};
    if (so.concurrency > 1 && !call::coroutine)
      return flow<U>{nullptr, make_error(error_code::invalid_argument,
                                         std::string{op}
                                           + "(n, f): concurrency > 1 needs a "
                                             "coroutine f returning task<U>")};
    if (err_ || !build_)
      return flow<U>{nullptr, moved_or(err_)};
    auto build = std::move(build_);
    return flow<U>{[build = std::move(build), n, f = std::move(f), op,
                    so](detail::build_context& ctx, sender<U> out) {
      detail::wire_parallel<Ordered>(ctx, build, f, op, so, n, std::move(out));
    }};
  }
}

/// @endcond

} // namespace actorflow
