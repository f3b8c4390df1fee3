// This file is part of actorflow. See README.md for the project's license.

#pragma once

// What the stream DSL asks of a stage function's type: is it a coroutine
// (`task<U>`), what value does it produce, is it an awaitable that is no
// `task<U>`, is its result a range. The operators' static_asserts read these.

#include <iterator>
#include <type_traits>
#include <utility>

#include <caf/expected.hpp>
#include <caf/unit.hpp>

#include "actorflow/task.hpp"
#include "actorflow/worker.hpp"

namespace actorflow::detail {

/// True if `R` is `task<U>` for some `U`.
template <class R>
struct is_task : std::false_type {};

template <class U>
struct is_task<task<U>> : std::true_type {};

/// The `U` of `task<U>`.
template <class R>
struct task_value;

template <class U>
struct task_value<task<U>> {
  using type = U;
};

/// True if `R` is `caf::expected<U>` for some `U`.
template <class R>
struct is_expected : std::false_type {};

template <class U>
struct is_expected<caf::expected<U>> : std::true_type {};

/// The value a stage function produces: `U` for `U`, `task<U>`,
/// `caf::expected<U>` and `task<caf::expected<U>>`.
template <class R>
struct stage_value {
  using type = R;
};

template <class U>
struct stage_value<task<U>> : stage_value<U> {};

template <class U>
struct stage_value<caf::expected<U>> {
  using type = U;
};

/// What `apply_at` yields for a function returning `R`: the stage value,
/// with `caf::unit_t` standing in for `void`.
template <class R>
using applied_t
  = std::conditional_t<std::is_void_v<typename stage_value<R>::type>,
                       caf::unit_t,
                       std::decay_t<typename stage_value<R>::type>>;

/// True if `R` has the members of an awaiter or an `operator co_await`.
template <class R>
  struct has_awaiter_interface : std::bool_constant < requires(R& r) {
  r.await_ready();
} || requires(R&& r) {
  static_cast<R&&>(r).operator co_await();
}
|| requires(R&& r) {
  operator co_await(static_cast<R&&>(r));
}
> {};

/// True if `R` can be awaited but is no `task<U>` (a stage function must
/// wrap such an awaitable in a coroutine).
template <class R>
struct is_foreign_awaitable
  : std::conjunction<std::negation<std::is_void<R>>,
                     std::negation<is_task<std::remove_cvref_t<R>>>,
                     has_awaiter_interface<std::remove_cvref_t<R>>> {};

/// True if `R` is a range: `std::begin` and `std::end` accept an `R&`.
template <class R, class = void>
struct is_range : std::false_type {};

template <class R>
struct is_range<R, std::void_t<decltype(std::begin(std::declval<R&>())),
                               decltype(std::end(std::declval<R&>()))>>
  : std::true_type {};

/// What every mapping stage (`then`, `parallel_then`, `route_by_key`) asks of
/// `f` before its static_asserts: whether it takes a `T`, what it returns,
/// whether that is a foreign awaitable, and the value it produces (`U`).
/// `raw` is `void*` when `f` is not callable, so that only the static_assert
/// that explains the mistake fires.
template <class F, class T>
struct stage_call {
  static constexpr bool invocable = std::is_invocable_v<F&, T&&>;
  using raw = typename body_result<invocable, F, T>::type;
  static constexpr bool foreign = is_foreign_awaitable<raw>::value;
  static constexpr bool coroutine = is_task<raw>::value;
  using value = typename stage_value<raw>::type;
};

} // namespace actorflow::detail
