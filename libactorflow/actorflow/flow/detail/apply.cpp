// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/flow/detail/apply.hpp"

#include <exception>
#include <stdexcept>
#include <string>

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
