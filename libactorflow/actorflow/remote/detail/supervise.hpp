// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The supervisor of one remote worker, in the driver: connects to the node,
// spawns the worker there and watches it. It and the gather talk to the
// scatter through the acks channel, with the markers below.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/send.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/detail/host.hpp"
#include "actorflow/remote/detail/join.hpp"
#include "actorflow/remote/remote_options.hpp"
#include "actorflow/remote/wire.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow::detail {

/// The high bits of an ack: the gather holds the item (but has not emitted
/// it yet), a worker was lost, a supervisor fails with an error of its own
/// (connect, spawn, the stage on the node), or a worker left the stage
/// without loss: one that was to join a running stage never ran (its error
/// went to `add_workers`), or one was drained (it finished its items).
constexpr uint64_t held_flag = uint64_t{1} << 63;
constexpr uint64_t lost_marker = ~uint64_t{0};
constexpr uint64_t failed_marker = ~uint64_t{1};
constexpr uint64_t withdrawn_marker = ~uint64_t{2};

/// Throws `err` as an `error_exception`: the worker ends with it.
[[noreturn]] ACTORFLOW_EXPORT void fail(caf::error err);

/// What a supervisor holds for its remote worker, released however the
/// supervisor ends (an exit message destroys its frame while it waits on a
/// connect, a spawn or a send; it does not resume):
///
/// - the two channel ends it exported, until a worker on the node binds
///   them. The channels count an exported end until it is closed or
///   abandoned, and watch the worker only once it binds the end (at its
///   first step). An end that no worker binds would keep its channel (and,
///   once a spawn request carried it, CAF's registry entry of that channel)
///   alive for good: so the ends are abandoned whenever the worker is gone
///   or told to stop, which is a no-op for an end it bound or closed;
/// - the worker itself, once spawned: a supervisor stopped by a cancelled or
///   failed pipeline stops it too, so that the node does not work through
///   the rest of the worker's input first.
class remote_worker_lease {
public:
  remote_worker_lease(remote_handle work, remote_handle results) noexcept
    : work_(std::move(work)), results_(std::move(results)) {
    // nop
  }

  remote_worker_lease(const remote_worker_lease&) = delete;
  remote_worker_lease& operator=(const remote_worker_lease&) = delete;

  ~remote_worker_lease() {
    auto self = host::current();
    if (worker_ && self != nullptr && self->stop_requested()) {
      caf::anon_send_exit(worker_, caf::exit_reason::user_shutdown);
      // Its node may die, or it may be stopped, before its first step.
      armed_ = true;
    }
    if (armed_)
      abandon();
  }

  /// The worker `w` on a node got the ends: it closes them, and the
  /// channels watch its actor once it binds them.
  void imported(caf::actor w) noexcept {
    armed_ = false;
    worker_ = std::move(w);
  }

  /// The worker ended, however: nothing to stop any more, and ends it did
  /// not bind (it died or was stopped before its first step) are abandoned.
  void worker_ended() noexcept {
    worker_ = nullptr;
    armed_ = true;
  }

  /// Tells both channels now that these ends will not be used (a no-op for
  /// an end that a worker bound already).
  void abandon() {
    armed_ = false;
    actorflow::abandon(work_);
    actorflow::abandon(results_);
  }

private:
  remote_handle work_;
  remote_handle results_;
  caf::actor worker_;
  bool armed_ = true;
};

/// Keeps an eye on one remote worker: connects to its node, spawns it there
/// and waits for its end. A worker lost for any other reason than its stage
/// failing or its node draining reports `lost_marker` to the scatter (a
/// drained one `withdrawn_marker`). A worker that joins a
/// running stage (`ticket` set) answers on its ticket once it runs; if it
/// cannot start, the error goes to the ticket and the stage goes on
/// (`withdrawn_marker`). With a `control`, the running worker is enlisted
/// there, so that `stage_control::drain` finds it.
ACTORFLOW_EXPORT task<> supervise(std::string where, uint16_t port,
                                  std::string host, caf::message request,
                                  remote_handle work, remote_handle results,
                                  sender<uint64_t> acks, remote_options opts,
                                  std::shared_ptr<join_ticket> ticket,
                                  std::shared_ptr<control_state> control);

} // namespace actorflow::detail
