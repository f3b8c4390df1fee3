// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote/detail/join.hpp"

#include <algorithm>
#include <utility>

#include <caf/send.hpp>

#include "actorflow/detail/atoms.hpp"
#include "actorflow/error.hpp"
#include "actorflow/remote/detail/remote_stage.hpp"

namespace actorflow::detail {

// -- join_answers -----------------------------------------------------------------

void join_answers::answer(const caf::error& err) {
  std::lock_guard guard{mtx_};
  if (pending_ == 0)
    return;
  --pending_;
  if (err && !first_)
    first_ = err;
  if (pending_ == 0)
    cv_.notify_all();
}

void join_answers::answer_rest(const caf::error& err) {
  std::lock_guard guard{mtx_};
  if (pending_ == 0)
    return;
  pending_ = 0;
  if (!first_)
    first_ = err;
  cv_.notify_all();
}

caf::error join_answers::wait(std::chrono::steady_clock::time_point until,
                              const std::string& what) {
  std::unique_lock guard{mtx_};
  if (!cv_.wait_until(guard, until, [this] { return pending_ == 0; }))
    return make_error(error_code::timeout,
                      what + ": no answer in time from the workers asked for");
  return first_;
}

join_ticket::~join_ticket() {
  answers_->answer_rest(make_error(
    error_code::not_running, "the stage ended before the new workers started"));
}

// -- control_state ----------------------------------------------------------------

namespace {

/// The error of a `where` that names no node, for `what` (which would let
/// workers `verb` a running stage), or none.
caf::error check_node(const std::string& where, const std::string& what,
                      const char* verb) {
  if (where == "local")
    return make_error(error_code::invalid_argument,
                      what + ": only workers on nodes can " + verb
                        + " a running stage; local workers are placed "
                          "when it starts");
  if (!parse_address(where))
    return make_error(error_code::invalid_argument,
                      what + ": bad node address (expected host:port)");
  return caf::none;
}

/// The error of a call `what` while no stage runs with the control.
caf::error not_running(const std::string& what) {
  return make_error(error_code::not_running,
                    what
                      + ": the stage does not run (not started yet, or "
                        "ended)");
}

} // namespace

bool control_state::arm(sender<join_request> tx, std::string stage,
                        caf::timespan patience) {
  std::lock_guard guard{mtx_};
  if (tx_)
    return false;
  tx_.emplace(std::move(tx));
  stage_ = std::move(stage);
  patience_ = patience;
  return true;
}

void control_state::disarm() {
  std::optional<sender<join_request>> tx;
  {
    std::lock_guard guard{mtx_};
    tx.swap(tx_);
  }
  // `tx` closes here, outside the lock.
}

caf::error control_state::add_workers(const std::string& where,
                                      size_t workers) {
  auto what = "add_workers(\"" + where + "\", " + std::to_string(workers) + ")";
  if (workers == 0)
    return make_error(error_code::invalid_argument, what + ": zero workers");
  if (auto err = check_node(where, what, "join"))
    return err;
  std::optional<sender<join_request>> tx;
  caf::timespan patience{0};
  {
    std::lock_guard guard{mtx_};
    if (!tx_)
      return not_running(what);
    tx.emplace(*tx_); // another sender of the channel, for this thread
    patience = patience_;
    what = "stage '" + stage_ + "': " + what;
  }
  auto answers = std::make_shared<join_answers>(workers);
  auto until = std::chrono::steady_clock::now() + patience;
  {
    join_request req{where, workers, std::make_shared<join_ticket>(answers)};
    if (!tx->blocking_send(std::move(req)))
      return make_error(error_code::not_running, what + ": the stage ended");
    tx.reset(); // flushes the request; the scatter holds the ticket now
  }
  auto err = answers->wait(until, what);
  if (!err) {
    std::lock_guard guard{mtx_};
    joined_ += workers;
  }
  return err;
}

bool control_state::running() {
  std::lock_guard guard{mtx_};
  return tx_.has_value();
}

size_t control_state::joined() {
  std::lock_guard guard{mtx_};
  return joined_;
}

void control_state::enlist(const std::string& where, caf::actor worker) {
  std::lock_guard guard{mtx_};
  workers_.push_back(enlisted{where, std::move(worker)});
}

void control_state::discharge(const caf::actor& worker) {
  std::lock_guard guard{mtx_};
  auto i = std::find_if(workers_.begin(), workers_.end(),
                        [&](const enlisted& x) { return x.worker == worker; });
  if (i == workers_.end())
    return;
  workers_.erase(i);
  discharged_.notify_all();
}

caf::expected<size_t> control_state::drain(const std::string& where,
                                           caf::timespan timeout) {
  auto what = "drain(\"" + where + "\")";
  if (auto err = check_node(where, what, "leave"))
    return err;
  std::unique_lock guard{mtx_};
  if (!tx_)
    return not_running(what);
  what = "stage '" + stage_ + "': " + what;
  std::vector<caf::actor> leaving;
  for (auto& x : workers_)
    if (x.where == where)
      leaving.push_back(x.worker);
  if (leaving.empty())
    return make_error(error_code::invalid_argument,
                      what + ": no worker of the stage runs there");
  for (auto& w : leaving)
    caf::anon_send(w, drain_atom::value);
  auto gone = [&] {
    return std::none_of(
      workers_.begin(), workers_.end(), [&](const enlisted& x) {
        return std::find(leaving.begin(), leaving.end(), x.worker)
               != leaving.end();
      });
  };
  if (!discharged_.wait_for(guard, timeout, gone))
    return make_error(error_code::timeout,
                      what
                        + ": the workers did not finish their items in "
                          "time (they still leave)");
  return leaving.size();
}

} // namespace actorflow::detail
