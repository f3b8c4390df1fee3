// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The sinks of `flow<T>`, defined out of line: for_each, fold, reduce,
// parallel_for_each, collect and to (to_actor is in actor_io.hpp).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/expected.hpp>
#include <caf/unit.hpp>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/apply.hpp"
#include "actorflow/flow/detail/stage_loops.hpp"
#include "actorflow/flow/parallel_then.hpp"
#include "actorflow/flow/pipeline.hpp"
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
pipeline<caf::unit_t> flow<T>::for_each(F f, stage_options so) && {
  constexpr bool ok = std::is_invocable_v<F&, T&&>;
  static_assert(ok, "for_each(f): f must be callable with the stream's "
                    "item type T");
  if constexpr (!ok) {
    return pipeline<caf::unit_t>{}; // not reached: the static_assert failed
  } else {
    auto g = [f = std::move(f)](caf::unit_t& acc, T&& x) mutable {
      f(std::move(x));
      return acc;
    };
    return std::move(*this).fold(caf::unit, std::move(g), so);
  }
}

template <class T>
template <class Acc, class F>
pipeline<Acc> flow<T>::fold(Acc init, F f, stage_options so) && {
  constexpr bool ok = std::is_invocable_r_v<Acc, F&, Acc&, T&&>;
  static_assert(ok, "fold(init, f): f must be callable as f(Acc&, T) and "
                    "return the new Acc");
  if constexpr (!ok)
    return pipeline<Acc>{}; // not reached: the static_assert failed
  else
    return std::move(*this).template sink<Acc>(
      "sink", so, std::move(init),
      [f = std::move(f), so](std::shared_ptr<Acc> acc,
                             receiver<T> in) mutable -> task<> {
        size_t index = 0;
        auto step = [&](T&& x) {
          if (auto next = detail::apply_at(so, index++, f, *acc, std::move(x)))
            *acc = std::move(*next);
        };
        for (;;) {
          if (detail::drain_ready(in, step) > 0)
            continue;
          auto x = co_await in.recv();
          if (!x)
            co_return;
          step(std::move(*x));
        }
      });
}

template <class T>
template <class F>
pipeline<T> flow<T>::reduce(F f, stage_options so) && {
  constexpr bool ok = std::is_invocable_r_v<T, F&, T&, T&&>;
  static_assert(ok, "reduce(f): f must be callable as f(T&, T) and return T");
  if constexpr (!ok) {
    return pipeline<T>{}; // not reached: the static_assert failed
  } else {
    using acc_t = std::optional<T>;
    auto inner = std::move(*this).fold(
      acc_t{},
      [f = std::move(f)](acc_t& acc, T&& x) mutable {
        if (!acc)
          acc.emplace(std::move(x));
        else
          acc.emplace(f(*acc, std::move(x)));
        return std::move(acc);
      },
      so);
    return pipeline<T>::map_from(std::move(inner), [](acc_t&& acc) {
      if (!acc)
        return caf::expected<T>{make_error(error_code::invalid_argument,
                                           "reduce of an empty stream")};
      return caf::expected<T>{std::move(*acc)};
    });
  }
}

template <class T>
template <class F>
pipeline<caf::unit_t> flow<T>::parallel_for_each(size_t n, F f) && {
  constexpr bool ok = std::is_invocable_v<F&, T&&>;
  static_assert(ok, "parallel_for_each(n, f): f must be callable with the "
                    "stream's item type T");
  if constexpr (!ok)
    return pipeline<caf::unit_t>{}; // not reached: the static_assert failed
  else
    return std::move(*this)
      .parallel_then_unordered(n,
                               [f = std::move(f)](T&& x) mutable {
                                 f(std::move(x));
                                 return uint8_t{0};
                               })
      .for_each([](uint8_t) {});
}

template <class T>
pipeline<std::vector<T>> flow<T>::collect(stage_options so) && {
  return std::move(*this).fold(
    std::vector<T>{},
    [](std::vector<T>& xs, T&& x) {
      xs.push_back(std::move(x));
      return std::move(xs);
    },
    so);
}

template <class T>
pipeline<caf::unit_t> flow<T>::to(sender<T> out, stage_options so) && {
  auto holder = std::make_shared<std::optional<sender<T>>>(std::move(out));
  return std::move(*this).template sink<caf::unit_t>(
    "to", so, caf::unit,
    [holder](std::shared_ptr<caf::unit_t>, receiver<T> in) -> task<> {
      if (!*holder)
        throw std::logic_error("to(sender): a pipeline into a sender can "
                               "run once");
      auto out = std::move(**holder);
      holder->reset();
      while (auto x = co_await in.recv())
        if (!co_await out.send(std::move(*x)))
          co_return;
    });
}

/// @endcond

} // namespace actorflow
