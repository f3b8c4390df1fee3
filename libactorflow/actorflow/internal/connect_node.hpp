// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Connecting to a node from inside a worker: what a driver's supervisors
// and the nodes query share.

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "actorflow/task.hpp"

namespace actorflow::internal {

/// Connects to the node at `host:port` (`where` in errors) from inside a
/// worker, with TLS if this process uses it. CAF 0.17 may give up on a
/// handshake early (its heartbeat check), so such a connect is tried again
/// until `connect_timeout`. Fails with `connect_failed`, `timeout`, or
/// `invalid_argument` for a TLS setup that cannot work.
task<caf::expected<caf::actor>> connect_node(std::string where,
                                             std::string host, uint16_t port,
                                             caf::timespan connect_timeout);

} // namespace actorflow::internal
