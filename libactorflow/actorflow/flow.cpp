// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/flow.hpp"

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

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

caf::error check_options(const char* op, const stage_options& so) {
  if (so.concurrency > 1)
    return make_error(error_code::invalid_argument,
                      std::string{op}
                        + ": stage_options::concurrency applies to then, "
                          "parallel_then, parallel_then_unordered and "
                          "route_by_key with a coroutine f (returning "
                          "task<U>)");
  if (so.workers != 0 || so.window != 0)
    return make_error(error_code::invalid_argument,
                      std::string{op}
                        + ": stage_options::workers and window apply to "
                          "parallel_then, parallel_then_unordered and "
                          "route_by_key");
  return caf::error{};
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

void report_unrun_pipeline() noexcept {
  std::fputs("actorflow: warning: a pipeline was built but never run (call "
             "run(sys) or start(sys) on it)\n",
             stderr);
}

void run_state::worker_done(const caf::error& err) {
  std::vector<worker> to_cancel;
  std::function<void()> then;
  {
    std::lock_guard guard{mtx};
    if (err && !first)
      first = err;
    if (err && !cancelled) {
      stop();
      to_cancel = workers;
    }
    --running;
    then = check_finished();
  }
  cv.notify_all();
  for (auto& w : to_cancel)
    w.cancel();
  if (then)
    then();
}

void run_state::mark_built() {
  std::function<void()> then;
  {
    std::lock_guard guard{mtx};
    built = true;
    then = check_finished();
  }
  cv.notify_all();
  if (then)
    then();
}

void run_state::cancel(caf::error why) {
  std::vector<worker> to_cancel;
  {
    std::lock_guard guard{mtx};
    if (!first)
      first = std::move(why);
    if (cancelled)
      return;
    stop();
    to_cancel = workers;
  }
  for (auto& w : to_cancel)
    w.cancel();
}

void run_state::stop() {
  cancelled = true;
  for (auto& ch : channels)
    ch->stopping.store(true, std::memory_order_release);
}

void run_state::wait() {
  std::unique_lock guard{mtx};
  cv.wait(guard, [this] { return finished; });
}

std::function<void()> run_state::check_finished() {
  if (finished || !built || running > 0)
    return nullptr;
  finished = true;
  workers.clear(); // the handles keep the stage actors (and their data) alive
  return std::exchange(on_finished, nullptr);
}

} // namespace actorflow::detail
