// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "actorflow/detail/export.hpp"

namespace actorflow {

/// What a stage does when its function fails on an item: throws, or returns
/// a `caf::expected` that holds an error. The default ends the pipeline with
/// `error_code::worker_failed`, naming the stage and the item.
///
/// ~~~
/// using actorflow::error_policy;
/// src.then(parse, {.on_error = error_policy::skip()});             // drop it
/// src.then(fetch, {.on_error = error_policy::retry(3)});           // 3 more
///                                                  // calls, then fail
/// src.then(fetch, {.on_error = error_policy::retry(3).or_skip()}); // 3 more
///                                                  // calls, then drop it
/// ~~~
struct error_policy {
  /// How many more times the stage calls its function on an item that
  /// failed (each retry gets a fresh copy of the item).
  uint32_t retries = 0;

  /// After the last failed attempt: drop the item and go on (true), or end
  /// the pipeline with an error (false).
  bool skip_failed = false;

  /// End the pipeline at the first failure (the default).
  static constexpr error_policy fail() noexcept {
    return error_policy{};
  }

  /// Drop every item on which the function fails; go on with the next.
  static constexpr error_policy skip() noexcept {
    return error_policy{0, true};
  }

  /// Call the function up to `k` more times on an item that failed; if the
  /// last attempt fails too, end the pipeline (see `or_skip`).
  static constexpr error_policy retry(uint32_t k) noexcept {
    return error_policy{k, false};
  }

  /// The same retries, but drop the item instead of failing after the last.
  constexpr error_policy or_skip() const noexcept {
    return error_policy{retries, true};
  }
};

/// What a stage does after a failed call.
enum class failure_action : uint8_t {
  /// Call the function again on the same item.
  retry,
  /// Drop the item and go on.
  skip,
  /// End the pipeline with an error.
  fail,
};

/// Returns "retry", "skip" or "fail".
ACTORFLOW_EXPORT std::string to_string(failure_action x);

/// One failed call of a stage function, as `stage_options::on_failure` sees
/// it (so that retried and skipped items can be counted or logged).
struct item_failure {
  /// The item's position in the stage's input, from 0.
  size_t index = 0;
  /// 1 for the first call on the item, 2 for the first retry, ...
  uint32_t attempt = 1;
  /// The exception's `what()`, or the rendered `caf::error`.
  std::string what;
  /// Whether the error came back as a `caf::error` (else: an exception).
  bool returned = false;
  /// What the stage does next.
  failure_action action = failure_action::fail;
};

} // namespace actorflow
