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
      cancelled = true;
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
    cancelled = true;
    to_cancel = workers;
  }
  for (auto& w : to_cancel)
    w.cancel();
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
