// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/worker.hpp"

#include <atomic>
#include <stdexcept>
#include <utility>

#include <caf/all.hpp>

namespace actorflow {

namespace detail {

worker_state::worker_state(std::string worker_name,
                           std::function<void(const caf::error&)> listener)
  : name(std::move(worker_name)), listener_(std::move(listener)) {
  // nop
}

void worker_state::publish(caf::error err) {
  {
    std::lock_guard guard{mtx_};
    if (done_)
      return;
    done_ = true;
    err_ = err;
  }
  if (probe)
    probe->finish();
  cv_.notify_all();
  // Drop the listener once it ran: it may own whoever owns this worker's
  // handle (a pipeline's run state), and that cycle would leak both.
  if (auto listener = std::exchange(listener_, nullptr))
    listener(err);
}

caf::error worker_state::wait() {
  std::unique_lock guard{mtx_};
  cv_.wait(guard, [this] { return done_; });
  return err_;
}

bool worker_state::done() {
  std::lock_guard guard{mtx_};
  return done_;
}

caf::error worker_state::result() {
  std::lock_guard guard{mtx_};
  return err_;
}

std::string next_worker_name() {
  static std::atomic<uint64_t> counter{0};
  return "worker-" + std::to_string(counter.fetch_add(1) + 1);
}

returned_error::~returned_error() {
  // nop
}

caf::error failure(const std::string& worker, std::exception_ptr ep) {
  std::string what;
  try {
    std::rethrow_exception(ep);
  } catch (const stopped&) {
    return make_error(error_code::worker_failed,
                      "worker '" + worker + "' was stopped");
  } catch (const returned_error& ex) {
    return make_error(error_code::worker_failed,
                      "worker '" + worker + "' failed: " + ex.what());
  } catch (const error_exception& ex) {
    auto& err = ex.error();
    if (err.category() == error_category)
      return make_error(static_cast<error_code>(err.code()),
                        "worker '" + worker + "': " + actorflow::what(err));
    return err;
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
    what = "an exception not derived from std::exception";
  }
  return make_error(error_code::worker_failed,
                    "worker '" + worker + "' threw: " + what);
}

worker_host::worker_host(caf::actor_config& cfg,
                         std::shared_ptr<worker_state> state)
  : host(cfg), state_(std::move(state)) {
  set_probe(state_->probe);
  set_clock(state_->clock);
}

worker_host::~worker_host() {
  // nop
}

const char* worker_host::name() const {
  return "actorflow.worker";
}

void worker_host::start() {
  try {
    task_ = make_task();
  } catch (...) {
    auto err = failure(state_->name, std::current_exception());
    complete(err, err);
    return;
  }
  make_ready(task_.handle());
}

void worker_host::after_activation() {
  if (task_.done()) {
    caf::error err;
    caf::error reason;
    if (auto ep = task_.handle().promise().exception()) {
      err = failure(state_->name, ep);
      // Stopped between two items: the actor ends as the exit message
      // that stopped it would have ended it (watchers see the same reason).
      reason = stop_requested() ? caf::error{caf::exit_reason::user_shutdown}
                                : err;
    }
    complete(std::move(err), std::move(reason));
  }
}

void worker_host::complete(caf::error err, caf::error reason) {
  // Destroying the frame and the arguments closes every channel handle the
  // body held: downstream sees end-of-stream, upstream loses a receiver.
  task_.reset();
  release_arguments();
  state_->publish(std::move(err));
  finish(std::move(reason));
}

void worker_host::on_exit() {
  if (!state_->done()) {
    // Killed from outside (cancel or an exit message) before it finished.
    activation guard{this};
    task_.reset();
    release_arguments();
    auto reason = fail_state();
    state_->publish(make_error(error_code::worker_failed,
                               "worker '" + state_->name
                                 + "' was stopped: " + to_string_any(reason)));
  }
}

} // namespace detail

worker::worker(caf::actor hdl,
               std::shared_ptr<detail::worker_state> state) noexcept
  : hdl_(std::move(hdl)), state_(std::move(state)) {
  // nop
}

const std::string& worker::name() const {
  static const std::string empty;
  return state_ ? state_->name : empty;
}

bool worker::done() const {
  return state_ == nullptr || state_->done();
}

caf::error worker::join() const {
  if (state_ == nullptr)
    return make_error(error_code::invalid_handle, "empty worker handle");
  if (detail::host::current() != nullptr)
    throw std::logic_error("actorflow: worker::join() inside a worker would "
                           "block a scheduler thread; use co_await");
  return state_->wait();
}

void worker::cancel() const {
  if (hdl_)
    caf::anon_send_exit(hdl_, caf::exit_reason::user_shutdown);
}

} // namespace actorflow
