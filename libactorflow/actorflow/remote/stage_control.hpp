// This file is part of actorflow. See README.md for the project's license.

#pragma once

// `stage_control`: a handle on a running distributed stage, through which
// nodes join it, and leave it, while it runs.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/fwd.hpp"

namespace actorflow {

/// Grows a running `remote_parallel_then` (or its unordered form): put it in
/// `remote_options::control`, start the pipeline, then add workers on nodes
/// while it runs. New workers take items from the same work channel as the
/// others, so they start within one round trip; ordered output stays in
/// order and the output stays exactly-once. The stage's bounds stay those it
/// started with (its window of items in flight, `remote_options::window`):
/// set the window for the largest number of workers you plan.
///
/// A copy refers to the same stage; one control serves one running stage
/// at a time. Its calls block the calling thread: call them from a thread of
/// your own (or a detached or blocking actor), not from a pipeline's stage.
///
/// ~~~
/// actorflow::stage_control grow;
/// actorflow::remote_options opts;
/// opts.control = grow;
/// auto run = src.compose(actorflow::remote_parallel_then<int64_t>(
///                          {{"10.0.0.5:4242", 4}}, "square", opts))
///              .for_each(print)
///              .start(sys);
/// // later, from this thread:
/// if (auto err = grow.add_workers("10.0.0.6:4242", 4))
///   std::cerr << actorflow::to_string_any(err) << '\n';
/// ~~~
class ACTORFLOW_EXPORT stage_control {
public:
  stage_control();

  /// Starts `workers` more workers of the stage on the node at `where`
  /// ("host:port", a node serving the stage with the same item types) and
  /// waits until they run there. On an error the running stage goes on
  /// without them: `invalid_argument` (zero workers, a bad address,
  /// "local"), `not_running` (the stage has not started or has ended),
  /// `connect_failed`, `timeout` (connect or spawn took longer than the
  /// stage's `connect_timeout` plus `spawn_timeout`), `unknown_stage`,
  /// `type_mismatch`. Workers that joined are supervised like the others: a
  /// joined node that dies mid-stream loses no item.
  caf::error add_workers(const std::string& where, size_t workers) const;

  /// Lets the stage's workers on the node at `where` (as named in the
  /// placement or in `add_workers`) leave gracefully: each finishes the
  /// items it holds and hands the rest back to the other workers, so no
  /// item runs twice. Waits until they left (at most `timeout`) and returns
  /// how many did. Errors: `invalid_argument` (a bad address, "local", or no
  /// worker of the stage there), `not_running`, `timeout` (they still leave).
  /// A stage whose last workers leave fails with `workers_lost`; for a whole
  /// node, `drain_node` on the node (SIGTERM to `actorflow_node`) does the
  /// same for every stage.
  ///
  /// ~~~
  /// auto left = grow.drain("10.0.0.6:4242");
  /// ~~~
  caf::expected<size_t> drain(const std::string& where,
                              caf::timespan timeout
                              = std::chrono::seconds{20}) const;

  /// True while the stage runs (from its start until its scatter ends).
  bool running() const;

  /// How many workers joined through `add_workers` so far.
  size_t joined() const;

  /// @private
  const std::shared_ptr<detail::control_state>& state() const noexcept {
    return state_;
  }

private:
  std::shared_ptr<detail::control_state> state_;
};

} // namespace actorflow
