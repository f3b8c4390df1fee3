// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Publishing an actor on a port, with TLS if this process uses it: what a
// node and a driver's join point share.

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/io/middleman.hpp>

#ifdef ACTORFLOW_WITH_TLS
#  include <caf/openssl/publish.hpp>
#endif

#include "actorflow/remote/distribution.hpp"

namespace actorflow::internal {

/// Publishes `hdl` on `host:port` (0: a free port); the port it got.
inline caf::expected<uint16_t> publish(caf::actor_system& sys,
                                       const caf::actor& hdl, uint16_t port,
                                       const std::string& host) {
#ifdef ACTORFLOW_WITH_TLS
  if (detail::tls_requested(sys))
    return caf::openssl::publish(hdl, port, host.c_str(), true);
#endif
  return sys.middleman().publish(hdl, port, host.c_str(), true);
}

} // namespace actorflow::internal
