// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Two flows into one: `zip` pairs their items in order, `combine_latest`
// pairs each new item with the latest of the other flow.

#include <optional>
#include <type_traits>
#include <utility>

#include <caf/meta/type_name.hpp>

#include "actorflow/flow/flow_decl.hpp"
#include "actorflow/flow/options.hpp"
#include "actorflow/flow/plumbing.hpp"
#include "actorflow/flow/sources.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow {

namespace detail {

/// An item of either of two flows, tagged with its flow, for the one channel
/// into `combine_latest`'s stage (CAF 0.17 cannot send a `std::variant`).
template <class A, class B>
struct either {
  bool right = false; // `b` holds the item, else `a`
  A a{};
  B b{};
};

template <class Inspector, class A, class B>
typename Inspector::result_type inspect(Inspector& f, either<A, B>& x) {
  return f(caf::meta::type_name("actorflow::either"), x.right, x.a, x.b);
}

} // namespace detail

/// Pairs the i-th item of `a` with the i-th item of `b`, in one stage actor
/// that takes one item of each in turn (so the faster flow waits under
/// backpressure, and nothing piles up). The stream ends when either input
/// ends; the rest of the other input is not taken, and its source is told
/// to stop.
///
/// ~~~
/// auto lines = actorflow::zip(actorflow::iota(1, 1000), read_lines(path));
/// std::move(lines).for_each([](std::pair<int, std::string> x) { ... });
/// ~~~
template <class A, class B>
flow<std::pair<A, B>> zip(flow<A> a, flow<B> b, stage_options so = {}) {
  using U = std::pair<A, B>;
  // Named variables, not structured bindings: clang 14 cannot capture those.
  auto released_a = std::move(a).release();
  auto released_b = std::move(b).release();
  if (released_a.second || released_b.second)
    return flow<U>{nullptr, released_a.second ? std::move(released_a.second)
                                              : std::move(released_b.second)};
  if (auto err = detail::check_options("zip", so))
    return flow<U>{nullptr, std::move(err)};
  return flow<U>{[build_a = std::move(released_a.first),
                  build_b = std::move(released_b.first),
                  so](detail::build_context& ctx, sender<U> out) {
    auto left = ctx.make_channel<A>(so);
    auto right = ctx.make_channel<B>(so);
    if (!left || !right)
      return;
    build_a(ctx, std::move(left->tx));
    build_b(ctx, std::move(right->tx));
    ctx.spawn(
      ctx.stage_name("zip"),
      [](receiver<A> xs, receiver<B> ys, sender<U> out) -> task<> {
        for (;;) {
          auto x = co_await xs.recv();
          if (!x)
            co_return;
          auto y = co_await ys.recv();
          if (!y)
            co_return;
          U xy{std::move(*x), std::move(*y)}; // see key_panes::send_all
          if (!co_await out.send(std::move(xy)))
            co_return;
        }
      },
      std::move(left->rx), std::move(right->rx), std::move(out));
  }};
}

/// Once both `a` and `b` sent an item, pairs every new item of either with
/// the latest item of the other, in the order they reach the combining
/// stage. Holds one item of each; both item types must be copyable. The
/// stream ends when both inputs ended.
///
/// ~~~
/// auto quotes = actorflow::combine_latest(prices, exchange_rates);
/// std::move(quotes).then([](std::pair<double, double> p) { ... });
/// ~~~
template <class A, class B>
flow<std::pair<A, B>> combine_latest(flow<A> a, flow<B> b,
                                     stage_options so = {}) {
  static_assert(
    std::is_copy_constructible_v<A> && std::is_copy_constructible_v<B>,
    "combine_latest(a, b): an item is paired with several items "
    "of the other flow, so both item types must be copyable");
  using U = std::pair<A, B>;
  using V = detail::either<A, B>;
  auto tagged = merge(std::move(a).then([](A x) {
    return V{false, std::move(x), B{}};
  }),
                      std::move(b).then([](B x) {
                        return V{true, A{}, std::move(x)};
                      }));
  return std::move(tagged).template stage<U>(
    "combine_latest", so, [](receiver<V> in, sender<U> out) -> task<> {
      std::optional<A> x;
      std::optional<B> y;
      while (auto v = co_await in.recv()) {
        if (v->right)
          y = std::move(v->b);
        else
          x = std::move(v->a);
        if (!x || !y)
          continue;
        U xy{*x, *y}; // named: see key_panes::send_all
        if (!co_await out.send(std::move(xy)))
          co_return;
      }
    });
}

} // namespace actorflow
