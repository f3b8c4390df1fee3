// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/flow/detail/apply.hpp"

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

#include "actorflow/detail/host.hpp"
#include "actorflow/error.hpp"
#include "actorflow/worker.hpp"

namespace actorflow::detail {

void rethrow_at(size_t index) {
  try {
    throw;
  } catch (const std::exception& ex) {
    throw std::runtime_error("item " + std::to_string(index) + ": "
                             + ex.what());
  } catch (...) {
    throw std::runtime_error("item " + std::to_string(index)
                             + ": an exception not derived from "
                               "std::exception");
  }
}

clock::time_point stage_now() {
  auto self = host::current();
  return self != nullptr ? self->clock()->now()
                         : std::chrono::steady_clock::now();
}

namespace {

std::string ms_text(clock::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  auto text = std::to_string(us / 1000);
  if (auto frac = us % 1000; frac != 0) {
    auto f = std::to_string(1000 + frac).substr(1); // 3 digits
    while (f.back() == '0')
      f.pop_back();
    text += "." + f;
  }
  return text + " ms";
}

} // namespace

caf::error overran(clock::duration took, clock::duration limit) {
  return make_error(error_code::timeout,
                    "the call took " + ms_text(took)
                      + ", longer than the stage's timeout of "
                      + ms_text(limit));
}

bool after_failure(const error_policy& policy,
                   const std::function<void(const item_failure&)>& listener,
                   size_t index, uint32_t attempt, bool can_retry,
                   std::exception_ptr ep, const caf::error& err) {
  item_failure info;
  info.index = index;
  info.attempt = attempt;
  if (ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& ex) {
      info.what = ex.what();
    } catch (...) {
      info.what = "an exception not derived from std::exception";
    }
  } else {
    info.returned = true;
    info.what = to_string_any(err);
  }
  if (can_retry)
    info.action = failure_action::retry;
  else if (policy.skip_failed)
    info.action = failure_action::skip;
  else
    info.action = failure_action::fail;
  if (auto self = host::current(); self != nullptr && self->probe())
    self->probe()->count_failure(info.action);
  if (listener)
    listener(info);
  if (info.action == failure_action::retry)
    return true;
  if (info.action == failure_action::skip)
    return false;
  auto msg = "item " + std::to_string(index);
  if (attempt > 1)
    msg += " (" + std::to_string(attempt) + " attempts)";
  msg += ": ";
  msg += info.what;
  if (info.returned)
    throw returned_error(msg);
  throw std::runtime_error(msg);
}

} // namespace actorflow::detail
