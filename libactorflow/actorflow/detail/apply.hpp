// This file is part of actorflow. See README.md for the project's license.

#pragma once

// How a stage calls the user's function on one item: `apply_at` runs it
// (synchronously, or as a coroutine when it returns `task<U>`), unwraps a
// `caf::expected<U>` result and applies the stage's error policy. Every
// stage body of the DSL goes through it.

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/unit.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/task.hpp"

namespace actorflow::detail {

/// True if `R` is `task<U>` for some `U`.
template <class R>
struct is_task : std::false_type {};

template <class U>
struct is_task<task<U>> : std::true_type {};

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

/// True if `R` can be awaited but is no `task<U>` (a stage function must
/// wrap such an awaitable in a coroutine).
template <class R, class = void>
struct is_foreign_awaitable : std::false_type {};

template <class R>
struct is_foreign_awaitable<
  R, std::void_t<decltype(std::declval<R&>().await_ready())>>
  : std::bool_constant<!is_task<R>::value> {};

template <class R>
struct is_foreign_awaitable<
  R, std::void_t<decltype(std::declval<R&&>().operator co_await())>>
  : std::bool_constant<!is_task<R>::value> {};

/// An awaitable that is ready at once: the outcome of a synchronous call, so
/// that a stage body can `co_await` every `apply_at` alike.
template <class T>
struct ready {
  T value;

  bool await_ready() const noexcept {
    return true;
  }

  void await_suspend(std::coroutine_handle<>) const noexcept {
    // nop: never suspends
  }

  T await_resume() {
    return std::move(value);
  }
};

/// Wraps an exception from user code with the item's index.
[[noreturn]] ACTORFLOW_EXPORT void rethrow_at(size_t index);

/// Calls `f(args...)` and returns its value, `caf::unit` for `void`.
template <class F, class... Args>
applied_t<std::invoke_result_t<F&, Args&&...>> call_value(F& f,
                                                          Args&&... args) {
  using raw = std::invoke_result_t<F&, Args&&...>;
  if constexpr (std::is_void_v<raw>) {
    f(std::forward<Args>(args)...);
    return caf::unit;
  } else {
    return f(std::forward<Args>(args)...);
  }
}

/// The synchronous case of `apply_at`.
template <class F, class... Args>
auto apply_sync(size_t index, F& f, Args&&... args) {
  using raw = std::invoke_result_t<F&, Args&&...>;
  using value = applied_t<raw>;
  try {
    return std::optional<value>{call_value(f, std::forward<Args>(args)...)};
  } catch (...) {
    rethrow_at(index);
  }
}

/// The coroutine case of `apply_at`: the arguments live in this frame.
template <class R, class F, class... Ts>
task<std::optional<applied_t<R>>> apply_task(size_t index, F& f, Ts... args) {
  using value = applied_t<R>;
  std::exception_ptr ep;
  try {
    auto t = f(std::move(args)...);
    if constexpr (std::is_void_v<typename stage_value<R>::type>) {
      co_await std::move(t);
      co_return std::optional<value>{caf::unit};
    } else {
      auto y = co_await std::move(t);
      co_return std::optional<value>{std::move(y)};
    }
  } catch (...) {
    ep = std::current_exception();
  }
  try {
    std::rethrow_exception(ep);
  } catch (...) {
    rethrow_at(index);
  }
}

/// Runs a stage function on one item (item `index` of the stage's input) and
/// returns an awaitable that yields `std::optional<V>` (empty: the item is
/// dropped). A function returning `task<U>` runs as a coroutine (its
/// arguments are moved into that coroutine's frame); any other function
/// runs right away. An exception ends the stage with the item's index.
template <class F, class... Args>
auto apply_at(size_t index, F& f, Args&&... args) {
  using raw = std::invoke_result_t<F&, Args&&...>;
  if constexpr (is_task<raw>::value)
    return apply_task<raw>(index, f, std::forward<Args>(args)...);
  else
    return ready<std::optional<applied_t<raw>>>{
      apply_sync(index, f, std::forward<Args>(args)...)};
}

} // namespace actorflow::detail
