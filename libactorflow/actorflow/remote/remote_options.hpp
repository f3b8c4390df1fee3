// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Where the workers of a distributed stage run, and its settings: what
// `remote_parallel_then` takes, and what its supervisors use.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "actorflow/remote/node.hpp"
#include "actorflow/remote/stage_control.hpp"

namespace actorflow {

/// `workers` workers on the node at `where` ("host:port"), or in the driver
/// itself for `where == "local"`.
struct workers_at {
  /// "host:port" of a node, or "local".
  std::string where;
  /// How many workers run there.
  size_t workers = 1;
};

/// Where the workers of a distributed stage run.
using placement = std::vector<workers_at>;

/// Settings of a distributed stage.
struct remote_options {
  /// The driver's own stages: needed for "local" workers.
  std::shared_ptr<const stage_registry> local_stages;
  /// Items between scatter and gather (0: 64 per worker). Bounds the gather's
  /// reorder buffer and the scatter's store of unacknowledged items.
  size_t window = 0;
  /// Items per message towards the workers.
  uint32_t batch = 16;
  /// How long connecting to a node may take (retries included).
  caf::timespan connect_timeout = std::chrono::seconds{5};
  /// How long a connected node may take to spawn a worker.
  caf::timespan spawn_timeout = std::chrono::seconds{5};
  /// Called when a remote worker is lost (with its node's address and the
  /// reason), before its items are sent to the other workers. Runs in the
  /// driver's actor that watched the worker: keep it short.
  std::function<void(const std::string&, const caf::error&)> on_worker_lost;
  /// Set: workers can join the stage while it runs, through this control
  /// (see `stage_control`).
  std::optional<stage_control> control;
};

} // namespace actorflow
