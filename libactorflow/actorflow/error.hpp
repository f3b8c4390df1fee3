// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "actorflow/detail/export.hpp"

namespace actorflow {

/// Errors that actorflow reports through `caf::error` (category `actorflow`).
///
/// ~~~
/// caf::error err = actorflow::make_error(actorflow::error_code::worker_failed,
///                                        "worker 'parse' threw: bad input");
/// std::cout << actorflow::to_string(err) << '\n';
/// ~~~
enum class error_code : uint8_t {
  /// No error.
  none = 0,
  /// A channel was created with an unsupported capacity (for example 0).
  invalid_capacity,
  /// An argument violated a documented precondition.
  invalid_argument,
  /// A worker body threw an exception or returned an error.
  worker_failed,
  /// A handle was used after it was moved from or closed.
  invalid_handle,
  /// A handle was used from an actor other than the one it is bound to.
  wrong_context,
  /// Every receiver of a channel is gone.
  receivers_gone,
  /// The actor that hosted an endpoint or a stage terminated unexpectedly.
  peer_lost,
  /// A pipeline was cancelled.
  cancelled,
  /// A node does not host a stage of the requested name.
  unknown_stage,
  /// Driver and node disagree on a stage's item types (names or layout).
  type_mismatch,
  /// A node could not be reached (refused, unknown host, bad address).
  connect_failed,
  /// A node did not answer in time (connect or spawn).
  timeout,
  /// Every worker of a distributed stage was lost (nodes died or hung).
  workers_lost,
  /// A port could not be opened for listening (in use, not permitted, or an
  /// address of no local interface).
  listen_failed,
  /// No item left a pipeline for a while, and a stage held it back (see
  /// `stall_watchdog`).
  stalled,
  /// A `stage_control` was used while its stage did not run (not started
  /// yet, or ended).
  not_running,
  /// A worker left its stage gracefully (see `drain_node` and
  /// `stage_control::drain`): it finished the items it held, and the others
  /// went to other workers.
  drained,
};

/// The CAF error category of actorflow's errors.
constexpr caf::atom_value error_category = caf::atom("actorflow");

/// Returns a human-readable name of `x`.
ACTORFLOW_EXPORT std::string to_string(error_code x);

/// Creates an actorflow error with an explaining context string.
ACTORFLOW_EXPORT caf::error make_error(error_code x, std::string what);

/// Creates an actorflow error without context.
ACTORFLOW_EXPORT caf::error make_error(error_code x);

/// Renders any `caf::error`, knowing actorflow's category even when the actor
/// system was not configured with `actorflow::init`.
ACTORFLOW_EXPORT std::string to_string_any(const caf::error& x);

/// Returns the context string of an actorflow error, or an empty string.
ACTORFLOW_EXPORT std::string what(const caf::error& x);

/// An exception that carries a `caf::error`: a worker body that throws it
/// ends with that error (the worker's name added to an actorflow error's
/// context) rather than with `error_code::worker_failed`.
///
/// ~~~
/// throw actorflow::error_exception{
///   actorflow::make_error(actorflow::error_code::timeout, "no answer")};
/// ~~~
class ACTORFLOW_EXPORT error_exception : public std::runtime_error {
public:
  /// Carries `err`; `what()` is its text.
  explicit error_exception(caf::error err);

  /// The error this exception carries.
  const caf::error& error() const noexcept {
    return err_;
  }

private:
  caf::error err_;
};

namespace detail {

/// Registers the renderer of actorflow's error category (see `init`).
ACTORFLOW_EXPORT void add_error_category(caf::actor_system_config& cfg);

} // namespace detail

} // namespace actorflow

// `init` used to be declared here; keep including this header for it.
#include "actorflow/init.hpp"
