// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The sources of the stream DSL: `from` (a range, or a channel's receiver),
// `iota`, `repeat`, `generate`, and `merge` of several flows.

#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/apply.hpp"
#include "actorflow/flow/detail/build_context.hpp"
#include "actorflow/flow/detail/stage_loops.hpp"
#include "actorflow/flow/detail/time_loops.hpp"
#include "actorflow/flow/plumbing.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow {

namespace detail {

/// A source stage: `next()` returns the next item or nullopt at the end.
template <class T, class Next>
flow<T> make_source(const char* op, Next next) {
  return flow<T>{[op, next](build_context& ctx, sender<T> out) mutable {
    ctx.spawn(
      ctx.stage_name(op),
      [next](sender<T> out) mutable -> task<> {
        size_t index = 0;
        for (;;) {
          // Fast path: as many items as the credit allows, in one loop.
          if (auto n = out.room_now(); n > 0) {
            if (!produce_ready(out, next, index, n))
              co_return;
            continue;
          }
          throw_if_stopped(); // no credit: the loop above did not check
          std::optional<T> x;
          try {
            x = next();
          } catch (...) {
            rethrow_at(index);
          }
          if (!x || !co_await out.send(std::move(*x)))
            co_return;
          ++index;
        }
      },
      std::move(out));
  }};
}

} // namespace detail

/// A stream of the elements of a container or range (copied into the
/// pipeline, so the source owns them).
template <class Range>
auto from(Range xs) {
  using T = std::decay_t<decltype(*std::begin(xs))>;
  using iterator = decltype(std::begin(std::declval<const Range&>()));
  auto data = std::make_shared<const Range>(std::move(xs));
  // Every run copies this callable, so every run starts at the beginning.
  return detail::make_source<T>(
    "from", [data, it = std::optional<iterator>{}]() mutable {
      if (!it)
        it = std::begin(*data);
      if (*it == std::end(*data))
        return std::optional<T>{};
      return std::optional<T>{*(*it)++};
    });
}

/// All items of several flows of the same type, interleaved as they come:
/// the merged stream ends when every input ended.
template <class T, class... Flows>
flow<T> merge(flow<T> first, Flows... rest) {
  static_assert((std::is_same_v<Flows, flow<T>> && ...),
                "merge(a, b, ...): every input must be a flow of the same "
                "item type");
  std::vector<detail::build_fn<T>> builds;
  caf::error err;
  auto add = [&](auto&& f) {
    auto [b, e] = std::move(f).release();
    if (e && !err)
      err = std::move(e);
    builds.push_back(std::move(b));
  };
  add(std::move(first));
  (add(std::move(rest)), ...);
  if (err)
    return flow<T>{nullptr, std::move(err)};
  return flow<T>{[builds](detail::build_context& ctx, sender<T> out) {
    // Every input gets a sender of its own; the channel into the next stage
    // ends when the last of them is done.
    for (auto& b : builds)
      b(ctx, sender<T>{out});
  }};
}

/// first, first+1, ..., last-1.
template <class T>
flow<T> iota(T first, T last) {
  return detail::make_source<T>("iota", [first, last]() mutable {
    return first < last ? std::optional<T>{first++} : std::nullopt;
  });
}

/// first, first+1, ... without end (end it with `take`).
template <class T>
flow<T> iota(T first) {
  return detail::make_source<T>("iota", [first]() mutable {
    return std::optional<T>{first++};
  });
}

/// `x` forever (end it with `take`).
template <class T>
flow<T> repeat(T x) {
  return detail::make_source<T>("repeat",
                                [x]() { return std::optional<T>{x}; });
}

/// Items from `f() -> std::optional<T>` until it returns nullopt.
template <class F>
auto generate(F f) {
  using opt = std::invoke_result_t<F&>;
  using T = typename opt::value_type;
  return detail::make_source<T>("generate", std::move(f));
}

/// An endless stream 0, 1, 2, ... of one item every `period` on the run's
/// clock (`run_options::clock`), the first a period after the start. Ticks
/// that fall due while the pipeline holds it back are dropped, not caught up
/// in a burst. A `period` of zero or less is an error.
///
/// ~~~
/// using namespace std::chrono_literals;
/// actorflow::interval(1s).take(10).for_each(report).run(sys); // 10 s
/// ~~~
template <class Rep, class Period>
flow<uint64_t> interval(std::chrono::duration<Rep, Period> period) {
  auto len = detail::positive_duration(period, "interval(period): period");
  if (!len)
    return flow<uint64_t>{nullptr, std::move(len.error())};
  return flow<uint64_t>{
    [d = *len](detail::build_context& ctx, sender<uint64_t> out) {
      ctx.spawn(
        ctx.stage_name("interval"),
        [d](sender<uint64_t> out) -> task<> {
          co_await detail::tick_every(out, d);
        },
        std::move(out));
    }};
}

/// The items of an existing channel, until every sender of it is gone.
template <class T>
flow<T> from(receiver<T> rx) {
  auto holder = std::make_shared<std::optional<receiver<T>>>(std::move(rx));
  return flow<T>{[holder](detail::build_context& ctx, sender<T> out) {
    if (!*holder) {
      if (!ctx.error)
        ctx.error = make_error(error_code::invalid_argument,
                               "from(receiver): a pipeline over a receiver "
                               "can run once");
      return;
    }
    ctx.spawn(
      ctx.stage_name("from"),
      [](receiver<T> in, sender<T> out) -> task<> {
        auto step = [](T&& x) {
          return std::optional<T>{std::move(x)};
        };
        co_await detail::map_stage(in, out, step);
      },
      std::move(**holder), std::move(out));
    holder->reset();
  }};
}

} // namespace actorflow
