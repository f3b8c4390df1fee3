// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/flow/detail/build_context.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

#include <caf/scheduler/abstract_coordinator.hpp>

#include "actorflow/error.hpp"

namespace actorflow::detail {

caf::error check_options(const char* op, const stage_options& so) {
  if (so.linger < std::chrono::nanoseconds::zero())
    return make_error(error_code::invalid_argument,
                      std::string{op}
                        + ": stage_options::linger must not be negative (0: "
                          "the pipeline's default)");
  if (so.timeout < std::chrono::nanoseconds::zero())
    return make_error(error_code::invalid_argument,
                      std::string{op}
                        + ": stage_options::timeout must not be negative (0: "
                          "no limit)");
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

size_t worker_count(std::optional<size_t> n, const stage_options& so,
                    const build_context& ctx) {
  if (n)
    return *n;
  if (so.workers != 0)
    return so.workers;
  return std::max<size_t>(1, ctx.sys.scheduler().num_workers());
}

} // namespace actorflow::detail
