// This file is part of actorflow. See README.md for the project's license.

#pragma once

// How a stage calls the user's function on one item: `apply_at` runs it
// (synchronously, or as a coroutine when it returns `task<U>`), unwraps a
// `caf::expected<U>` result, checks the stage's timeout and applies its
// error policy. Every stage body of the DSL goes through it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/sec.hpp>
#include <caf/unit.hpp>

#include "actorflow/clock.hpp"
#include "actorflow/detail/export.hpp"
#include "actorflow/error_policy.hpp"
#include "actorflow/flow/detail/stage_traits.hpp"
#include "actorflow/task.hpp"

namespace actorflow::detail {

/// Wraps an exception from user code with the item's index.
[[noreturn]] ACTORFLOW_EXPORT void rethrow_at(size_t index);

/// Decides what a stage does after attempt `attempt` of its function on item
/// `index` failed, with the exception `ep` or else with the error `err` that
/// the function returned: tells `listener` (if set), then returns true to
/// call the function again (only if `can_retry`), false to drop the item, or
/// throws the stage's failure ("item 17: boom", "item 17 (4 attempts):
/// boom"; a returned error throws `returned_error`).
ACTORFLOW_EXPORT bool after_failure(
  const error_policy& policy,
  const std::function<void(const item_failure&)>& listener, size_t index,
  uint32_t attempt, bool can_retry, std::exception_ptr ep,
  const caf::error& err);

/// The time on the clock of the stage that runs this (the run's clock), for
/// `stage_options::timeout`.
ACTORFLOW_EXPORT clock::time_point stage_now();

/// The failure of a call that took `took`, longer than the stage's `limit`.
ACTORFLOW_EXPORT caf::error overran(clock::duration took,
                                    clock::duration limit);

/// The timeout of calls under `so` (zero: none).
template <class Options>
clock::duration timeout_of(const Options& so) {
  if constexpr (requires { so.timeout; })
    return std::chrono::duration_cast<clock::duration>(so.timeout);
  else
    return clock::duration::zero();
}

/// Times one call of a stage function against the stage's timeout; free
/// when there is none (no clock read).
class call_timer {
public:
  explicit call_timer(clock::duration limit)
    : limit_(limit),
      start_(limit > clock::duration::zero() ? stage_now()
                                             : clock::time_point{}) {
    // nop
  }

  /// The failure of the call if it took longer than the limit.
  std::optional<caf::error> overran() const {
    if (limit_ <= clock::duration::zero())
      return std::nullopt;
    if (auto took = stage_now() - start_; took > limit_)
      return detail::overran(took, limit_);
    return std::nullopt;
  }

private:
  clock::duration limit_;
  clock::time_point start_;
};

/// Takes the value out of what a stage function returned: a `caf::expected`
/// holding an error stores it in `err` and yields nothing. (An optional
/// error: constructing a `caf::error` per item costs two calls into
/// libcaf_core on the hot path.)
template <class R>
std::optional<applied_t<R>> take_value(R& r, std::optional<caf::error>& err) {
  using value = applied_t<R>;
  using plain = std::remove_cv_t<R>;
  if constexpr (is_expected<plain>::value) {
    if (!r) {
      err.emplace(r.error());
      if (!*err) // an expected without value and without error
        *err = caf::make_error(caf::sec::runtime_error,
                               "returned an empty caf::expected");
      return std::nullopt;
    }
    if constexpr (std::is_same_v<value, caf::unit_t>)
      return std::optional<value>{caf::unit};
    else
      return std::optional<value>{std::move(*r)};
  } else {
    return std::optional<value>{std::move(r)};
  }
}

/// Whether retrying may hand copies of these arguments to the function:
/// references are passed on as they are, values must be copyable.
template <class... Args>
constexpr bool copyable_args
  = ((std::is_lvalue_reference_v<
        Args> || std::is_copy_constructible_v<std::remove_cvref_t<Args>>)&&...);

/// An argument for an attempt that may be retried: a copy of a value, or
/// the reference itself.
template <class A>
A another_use(std::remove_reference_t<A>& x) {
  return x;
}

/// The synchronous case of `apply_at`.
template <class Options, class F, class... Args>
auto apply_sync(const Options& so, size_t index, F& f, Args&&... args) {
  using raw = std::invoke_result_t<F&, Args&&...>;
  using value = applied_t<raw>;
  constexpr bool copyable = copyable_args<Args...>;
  std::optional<caf::error> err;
  auto once = [&](auto&&... xs) -> std::optional<value> {
    if constexpr (std::is_void_v<raw>) {
      f(std::forward<decltype(xs)>(xs)...);
      return std::optional<value>{caf::unit};
    } else {
      decltype(auto) r = f(std::forward<decltype(xs)>(xs)...);
      return take_value<std::remove_reference_t<raw>>(r, err);
    }
  };
  auto limit = timeout_of(so);
  for (uint32_t attempt = 1;; ++attempt) {
    bool last = !copyable || attempt > so.on_error.retries;
    std::exception_ptr ep;
    try {
      call_timer timing{limit};
      auto y = [&] {
        if constexpr (copyable) {
          if (!last)
            return once(another_use<Args>(args)...);
        }
        return once(std::forward<Args>(args)...);
      }();
      if (y) {
        err = timing.overran();
        if (!err)
          return y;
      }
    } catch (...) {
      ep = std::current_exception();
    }
    if (!after_failure(so.on_error, so.on_failure, index, attempt, !last, ep,
                       err ? *err : caf::error{}))
      return std::optional<value>{};
    err.reset();
  }
}

/// The coroutine case of `apply_at`: the arguments live in this frame, and
/// every retry gets fresh copies of them.
template <class R, class Options, class F, class... Ts>
task<std::optional<applied_t<R>>> apply_task(const Options& so, size_t index,
                                             F& f, Ts... args) {
  using value = applied_t<R>;
  using awaited = typename task_value<R>::type;
  constexpr bool copyable = copyable_args<Ts...>;
  auto limit = timeout_of(so);
  for (uint32_t attempt = 1;; ++attempt) {
    bool last = !copyable || attempt > so.on_error.retries;
    std::exception_ptr ep;
    std::optional<caf::error> err;
    try {
      call_timer timing{limit};
      std::optional<std::tuple<Ts...>> copies;
      auto t = [&] {
        if constexpr (copyable) {
          if (!last) {
            copies.emplace(args...);
            return std::apply(f, std::move(*copies));
          }
        }
        return f(std::move(args)...);
      }();
      if constexpr (std::is_void_v<awaited>) {
        co_await std::move(t);
        err = timing.overran();
        if (!err)
          co_return std::optional<value>{caf::unit};
      } else {
        auto r = co_await std::move(t);
        if (auto y = take_value<awaited>(r, err)) {
          err = timing.overran();
          if (!err)
            co_return y;
        }
      }
    } catch (...) {
      ep = std::current_exception();
    }
    if (!after_failure(so.on_error, so.on_failure, index, attempt, !last, ep,
                       err ? *err : caf::error{}))
      co_return std::optional<value>{};
  }
}

/// Runs a stage function on one item (item `index` of the stage's input)
/// under the stage's error policy (`so.on_error`, `so.on_failure`). A
/// synchronous function runs right away and `apply_at` returns
/// `std::optional<V>`, empty if the item is to be dropped. A function
/// returning `task<U>` yields a `task<std::optional<V>>` to `co_await` (the
/// arguments are moved into its frame). A `caf::expected<U>` result is
/// unwrapped; its error counts as a failure. (The synchronous case is no
/// awaitable on purpose: a `co_await` per item, even of a ready awaitable,
/// costs more than a cheap stage's own work.)
///
/// ~~~
/// if (auto y = detail::apply_at(so, index++, f, std::move(*x)))
///   co_await out.send(std::move(*y));
/// ~~~
template <class Options, class F, class... Args>
auto apply_at(const Options& so, size_t index, F& f, Args&&... args) {
  using raw = std::invoke_result_t<F&, Args&&...>;
  if constexpr (is_task<raw>::value)
    return apply_task<raw>(so, index, f, std::forward<Args>(args)...);
  else
    return apply_sync(so, index, f, std::forward<Args>(args)...);
}

} // namespace actorflow::detail
