// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The nodes query: what a node hosts, asked by a driver (or an operator's
// tool) before it places stages there.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "actorflow/detail/export.hpp"

namespace actorflow {

/// A stage that a node hosts, with the registered names of its item types.
struct node_stage {
  /// The stage's name, as placements name it.
  std::string name;
  /// The name its input type is registered under (`add_item_type`).
  std::string in;
  /// The name its output type is registered under.
  std::string out;
};

/// What a node hosts: what `describe_node` returns.
struct node_description {
  /// The node's address, as asked ("host:port").
  std::string address;
  /// Its stages, ordered by name.
  std::vector<node_stage> stages;
  /// How many workers it runs for drivers right now.
  uint64_t running_workers = 0;
};

/// Asks the node at `address` ("host:port") what it hosts: its stages with
/// their item types, and how many workers it runs. Connects as a driver
/// does (with TLS if this process uses it) and blocks the calling thread
/// for at most about twice `timeout` (connect, then the question): call it
/// from outside actors, e.g. before building a pipeline or in an operator's
/// tool (`actorflow_node --describe=host:port`). Errors as the remote
/// stages': `invalid_argument` for a bad address, `connect_failed` when no
/// node listens or the peer is not an actorflow node, `timeout`.
///
/// ~~~
/// auto node = actorflow::describe_node(sys, "10.0.0.5:4242");
/// if (!node)
///   return fail(node.error());
/// for (auto& s : node->stages)
///   std::cout << s.name << ": " << s.in << " -> " << s.out << '\n';
/// ~~~
ACTORFLOW_EXPORT caf::expected<node_description> describe_node(
  caf::actor_system& sys, const std::string& address,
  caf::timespan timeout = std::chrono::seconds{5});

namespace detail {

/// Asks a node for its stages: it answers with a `std::vector<std::string>`
/// of (name, input type name, output type name) triples.
using node_stages_atom = caf::atom_constant<caf::atom("af_nstgs")>;

} // namespace detail

} // namespace actorflow
