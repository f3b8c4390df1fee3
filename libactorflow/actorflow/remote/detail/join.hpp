// This file is part of actorflow. See README.md for the project's license.

#pragma once

// What a `stage_control` shares with the running stage it controls: the
// channel on which `add_workers` asks the stage's scatter for workers, the
// ticket on which the new workers' supervisors answer, and the workers on
// nodes that the supervisors enlist, which `drain` asks to leave.
//
//   add_workers --join_request--> scatter --spawns--> supervisors
//        ^                                                 |
//        +----------- join_ticket (spawned, or why not) ---+
//   drain --drain_atom--> workers at a node; their supervisors discharge them

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/sender.hpp"

namespace actorflow::detail {

/// Where `add_workers` waits for the answers of the workers it asked for.
class ACTORFLOW_EXPORT join_answers {
public:
  explicit join_answers(size_t expected) : pending_(expected) {
    // nop
  }

  /// One worker answered: `none` once it runs, or why it will not.
  void answer(const caf::error& err);

  /// Answers every worker not answered yet with `err`.
  void answer_rest(const caf::error& err);

  /// Blocks until every worker answered or `until` passed; the first error,
  /// or a `timeout` error naming `what` if the time passed.
  caf::error wait(std::chrono::steady_clock::time_point until,
                  const std::string& what);

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  size_t pending_;
  caf::error first_;
};

/// Held by a join request and by the supervisors it starts: once the last
/// holder lets go, the workers nobody answered for (a request the stage
/// never took because it ended) get an error, so `add_workers` need not
/// wait for its timeout.
class ACTORFLOW_EXPORT join_ticket {
public:
  explicit join_ticket(std::shared_ptr<join_answers> answers)
    : answers_(std::move(answers)) {
    // nop
  }

  join_ticket(const join_ticket&) = delete;
  join_ticket& operator=(const join_ticket&) = delete;

  ~join_ticket();

  void answer(const caf::error& err) {
    answers_->answer(err);
  }

private:
  std::shared_ptr<join_answers> answers_;
};

/// A request for `workers` more workers on the node at `where`.
struct join_request {
  std::string where;
  size_t workers = 0;
  std::shared_ptr<join_ticket> ticket;
};

/// CAF wants every message's types inspectable; a join request never leaves
/// its process (the ticket does not travel, and the scatter ignores a
/// request without one).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_request& x) {
  return f(caf::meta::type_name("actorflow::join_request"), x.where, x.workers);
}

/// The state behind a `stage_control`: the sending end of its stage's join
/// requests while the stage runs (its scatter arms and disarms it).
class ACTORFLOW_EXPORT control_state {
public:
  /// A stage starts: `tx` reaches its scatter. False if another stage runs
  /// with this control already.
  bool arm(sender<join_request> tx, std::string stage, caf::timespan patience);

  /// The stage's scatter ended: no more requests.
  void disarm();

  /// Sends a request for `workers` workers at `where` to the running stage
  /// and waits for their answers.
  caf::error add_workers(const std::string& where, size_t workers);

  /// True while a stage runs with this control.
  bool running();

  /// How many workers joined through this control so far.
  size_t joined();

  /// A supervisor's worker at `where` runs (see `enlistment`).
  void enlist(const std::string& where, caf::actor worker);

  /// That worker ended, however.
  void discharge(const caf::actor& worker);

  /// Asks the workers at `where` to leave gracefully and waits (at most
  /// `timeout`) until their supervisors discharged them; how many left.
  caf::expected<size_t> drain(const std::string& where, caf::timespan timeout);

private:
  struct enlisted {
    std::string where;
    caf::actor worker;
  };

  std::mutex mtx_;
  std::condition_variable discharged_;
  std::optional<sender<join_request>> tx_;
  std::string stage_;
  caf::timespan patience_{0};
  size_t joined_ = 0;
  std::vector<enlisted> workers_;
};

/// Enlists a supervisor's worker with its stage's control (if the stage has
/// one) for as long as it lives; destroyed when the worker ended, or with
/// the supervisor's frame.
class enlistment {
public:
  enlistment() = default;

  enlistment(const enlistment&) = delete;
  enlistment& operator=(const enlistment&) = delete;

  ~enlistment() {
    if (control_)
      control_->discharge(worker_);
  }

  /// `worker` at `where` runs; a no-op without a control.
  void enlist(std::shared_ptr<control_state> control, const std::string& where,
              caf::actor worker) {
    if (!control)
      return;
    control_ = std::move(control);
    worker_ = std::move(worker);
    control_->enlist(where, worker_);
  }

  /// The worker ended.
  void discharge() {
    if (auto control = std::exchange(control_, nullptr))
      control->discharge(worker_);
  }

private:
  std::shared_ptr<control_state> control_;
  caf::actor worker_;
};

} // namespace actorflow::detail
