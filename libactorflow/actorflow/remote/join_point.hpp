// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Nodes that join a driver's running stages by name: the driver opens a
// `join_point`, a node asks it with `join_stage` (or `actorflow_node
// --join`).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/remote/stage_control.hpp"

namespace actorflow {

/// Where nodes join the running stages of this driver: an actor published
/// on a port that starts workers of a named stage on the node that asks,
/// through that stage's `stage_control` (so it answers with that call's
/// errors, or `unknown_stage` for a name it does not know). Anyone who
/// reaches the port can make the driver connect to an address of their
/// choice: keep it on a loopback or private address, or use TLS
/// (`init_distribution`), which it follows as the nodes do. Closed when
/// destroyed; close it before its actor system ends.
///
/// ~~~
/// actorflow::stage_control grow;
/// auto joins = actorflow::join_point::open(sys, {{"square", grow}}, 4300);
/// // on another host, a node joins with 4 workers:
/// //   actorflow_node --plugins=./stages.so --host=10.0.0.7 --port=4242
/// //                  --join=10.0.0.5:4300 --stage=square --workers=4
/// ~~~
class ACTORFLOW_EXPORT join_point {
public:
  /// Publishes a join point for `stages` (name: control) on `host:port` (0:
  /// a free port). Fails with `listen_failed`, or `invalid_argument` for a
  /// TLS setup that cannot work.
  static caf::expected<join_point> open(
    caf::actor_system& sys, std::map<std::string, stage_control> stages,
    uint16_t port = 0, const std::string& host = "127.0.0.1");

  /// Takes over `other`'s join point; `other` is left empty.
  join_point(join_point&& other) noexcept;
  /// Closes this join point and takes over `other`'s.
  join_point& operator=(join_point&& other) noexcept;
  join_point(const join_point&) = delete;
  join_point& operator=(const join_point&) = delete;
  ~join_point();

  /// The port it listens on.
  uint16_t port() const noexcept {
    return port_;
  }

  /// Stops listening and answering. Idempotent.
  void close();

private:
  join_point(caf::actor_system& sys, caf::actor hdl, uint16_t port);

  caf::actor_system* sys_ = nullptr;
  caf::actor hdl_;
  uint16_t port_ = 0;
};

/// Asks the driver's join point at `address` ("host:port") to start
/// `workers` workers of its running stage `stage` on the node at `node`
/// (this node's address as the driver reaches it), and waits for the answer
/// (at most `timeout` for connecting, and again for the answer). Blocks the
/// calling thread: call it from outside actors. Errors: those of
/// `stage_control::add_workers`, `unknown_stage` for a stage the driver
/// does not offer, `connect_failed` or `timeout` for the join point itself.
ACTORFLOW_EXPORT caf::error join_stage(
  caf::actor_system& sys, const std::string& address, const std::string& stage,
  const std::string& node, size_t workers,
  caf::timespan timeout = std::chrono::seconds{30});

namespace detail {

/// A node asks a join point for workers: (stage, node address, workers).
using stage_join_atom = caf::atom_constant<caf::atom("af_sjoin")>;

} // namespace detail

} // namespace actorflow
