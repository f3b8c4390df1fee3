// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The settings of a process that takes part in distributed pipelines:
// heartbeats, TLS, and `init_distribution`, which applies them to a config.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "actorflow/detail/export.hpp"

namespace actorflow {

/// TLS between the processes of distributed pipelines, with CAF's OpenSSL
/// module (`libcaf_openssl`). Every process, drivers and nodes alike,
/// presents `certificate` and accepts a peer only if the peer's certificate
/// is signed by a CA in `ca_file` (mutual authentication; CAF 0.17 checks no
/// host names, so every holder of a certificate from that CA is trusted).
/// All processes of a pipeline use TLS, or none: a TLS process and a plain
/// one cannot talk (the connect fails, or times out).
///
/// ~~~
/// actorflow::distribution_options dopts;
/// dopts.tls = actorflow::tls_options{"node.pem", "node.key", "ca.pem"};
/// if (auto err = actorflow::init_distribution(cfg, dopts))
///   ...; // a missing or unreadable file, a key that does not match
/// ~~~
struct tls_options {
  /// PEM file: this process's certificate (optionally followed by
  /// intermediate CA certificates).
  std::string certificate;
  /// PEM file: the private key of `certificate`.
  std::string key;
  /// PEM file: the CA certificate(s) that peers' certificates must chain to.
  std::string ca_file;
  /// Decrypts `key` if it is encrypted (empty: the key is not encrypted).
  std::string passphrase;
};

/// Settings of a process that takes part in distributed pipelines.
struct distribution_options {
  /// Interval of the heartbeats between connected processes (0: none).
  caf::timespan heartbeat = std::chrono::milliseconds{500};
  /// A connection without any traffic (heartbeats included) for this long is
  /// closed and its peer treated as lost: that is how a hung node (SIGSTOP,
  /// a stalled host) is detected. Only effective with heartbeats; 0: never.
  caf::timespan connection_timeout = std::chrono::seconds{5};
  /// Encrypt and authenticate every connection with TLS (unset: plain TCP).
  std::optional<tls_options> tls;
};

/// Prepares `cfg` for distributed pipelines, in drivers and nodes alike:
/// loads CAF's middleman (unless loaded already), registers actorflow's wire
/// types and sets the heartbeat (CAF's `middleman.heartbeat-interval` and
/// `middleman.connection-timeout`; a config file or the command line still
/// wins for the heartbeat interval). Call it before constructing the actor
/// system, before or after `parse`; register item types with
/// `add_item_type`.
///
/// With `opts.tls`, it also loads CAF's OpenSSL module and sets its
/// `openssl.*` options (CAF's `--openssl.*` options parsed afterwards win);
/// `serve_node` then publishes with TLS and
/// `remote_parallel_then` connects with TLS. It checks the files right away
/// (readable, PEM, the key matches the certificate, the passphrase fits)
/// and returns an `invalid_argument` error naming the file otherwise (or if
/// this build has no TLS); `serve_node` and every connect of a driver check
/// again, so a process that ignores the result fails there, never runs
/// without TLS, and never hangs.
///
/// ~~~
/// caf::actor_system_config cfg;
/// actorflow::init(cfg);
/// actorflow::init_distribution(cfg);
/// actorflow::add_item_type<int32_t>(cfg, "int32");
/// ~~~
ACTORFLOW_EXPORT caf::error init_distribution(caf::actor_system_config& cfg,
                                              distribution_options opts = {});

/// True if this build of actorflow supports `distribution_options::tls`.
ACTORFLOW_EXPORT bool tls_supported() noexcept;

/// The command-line flags of a program whose connections may use TLS:
/// `--tls-cert`, `--tls-key` and `--tls-ca` (PEM files, see `tls_options`).
/// TLS is on once any of them is given; a missing one is then an error of
/// `init_distribution`.
///
/// ~~~
/// struct config : caf::actor_system_config {
///   actorflow::tls_flags tls;
///   config() {
///     tls.add_to(opt_group{custom_options_, "global"}.add(port, "port", ""));
///   }
/// };
/// // after cfg.parse(argc, argv):
/// dopts.tls = cfg.tls.options();
/// ~~~
struct ACTORFLOW_EXPORT tls_flags {
  /// --tls-cert: this process's certificate (PEM).
  std::string certificate;
  /// --tls-key: its private key (PEM).
  std::string key;
  /// --tls-ca: the CA that signs the peers' certificates (PEM).
  std::string ca_file;

  /// Adds the three flags to `group` and returns it.
  caf::config_option_adder& add_to(caf::config_option_adder& group);

  /// The same for a group made just for them:
  /// `tls.add_to(opt_group{custom_options_, "global"})`.
  void add_to(caf::config_option_adder&& group) {
    add_to(group);
  }

  /// The TLS settings the flags gave, or none (plain TCP).
  std::optional<tls_options> options() const;

  /// The same flags again, for a process this one starts (empty: none).
  std::vector<std::string> arguments() const;
};

namespace detail {

/// True if `init_distribution` was asked for TLS in this process.
ACTORFLOW_EXPORT bool tls_requested(const caf::actor_system& sys);

/// An error if TLS was asked for but cannot work (bad files, module not
/// loaded, no TLS in this build); none if TLS is fine or not asked for.
ACTORFLOW_EXPORT caf::error tls_check(caf::actor_system& sys);

/// The middleman actor to connect with: CAF's OpenSSL one with TLS.
ACTORFLOW_EXPORT caf::actor connector(caf::actor_system& sys);

} // namespace detail

} // namespace actorflow
