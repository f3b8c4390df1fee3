// The node program's guard on its plain TCP connections (part of
// actorflow_node, not of the library).
//
// CAF 0.17's BASP broker sizes its read buffer to whatever payload a message
// header announces (up to 4 GiB, zero-filled) before it reads a byte of it,
// and a connection that never sends a complete header has no BASP state, so
// its connection timeout never closes it. No middleman setting caps either.
// The guard is CAF's own network backend with its read requests checked: a
// connection that announces more than the node accepts is closed before
// anything is allocated, and an inbound connection that sends no complete
// header in time is closed too. TLS connections are made by CAF's OpenSSL
// module, outside this backend: they are not guarded (their peers need a
// certificate from the node's CA first).

#pragma once

#include <chrono>
#include <cstddef>

#include <caf/fwd.hpp>

namespace actorflow_node {

/// What the node accepts from a peer.
struct guard_limits {
  /// A message (a BASP payload) larger than this closes its connection.
  size_t max_message = size_t{64} << 20;

  /// The payloads larger than `large_read` that all connections are receiving
  /// at the same time, together: a message that would exceed this closes its
  /// connection.
  size_t max_pending = size_t{256} << 20;

  /// An inbound connection that sent no complete message header after this
  /// long is closed (later, CAF's connection timeout watches it).
  std::chrono::milliseconds greeting_timeout{5000};

  /// Reads up to this size are neither counted nor refused; a connection
  /// keeps a buffer of at most this size between messages.
  static constexpr size_t large_read = size_t{64} << 10;
};

/// Makes the actor system of `cfg` use the guarded network backend with
/// `limits` (call after `actorflow::init_distribution`, which loads CAF's
/// plain middleman).
void install_guard(caf::actor_system_config& cfg, const guard_limits& limits);

/// Starts closing inbound connections that miss their greeting timeout
/// (call once the actor system of a config prepared by `install_guard`
/// runs).
void start_guard(caf::actor_system& sys);

} // namespace actorflow_node
