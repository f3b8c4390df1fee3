// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The awaitables of a driver's supervisors and scatter: connect to a node,
// spawn a worker there, wait for an actor's end, wait on several channels.

#include <array>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/detail/rx_endpoint.hpp"
#include "actorflow/receiver.hpp"

namespace actorflow::detail {

/// Awaitable: connects to the node at host:port (from inside a worker).
/// Resumes with the node's actor, or `connect_failed` / `timeout`.
struct ACTORFLOW_EXPORT connect_awaiter {
  std::string host;
  uint16_t port;
  caf::timespan timeout;
  std::optional<caf::expected<caf::actor>> result;
  /// Set if CAF gave up on the handshake early (CAF 0.17 with heartbeats
  /// may close a connection whose handshake is still running at its next
  /// heartbeat check): worth another try within the timeout.
  bool retry = false;
  /// Set if the peer closed the connection during the handshake: a heartbeat
  /// race as above, or a TLS process meeting a plain one; the supervisor
  /// retries it a few times only, so a mismatch still fails fast.
  bool lost_handshake = false;
  /// The whole connect timeout, of which `timeout` is what earlier attempts
  /// left: a timeout error names it (0: `timeout`).
  caf::timespan budget{0};

  bool await_ready() const noexcept {
    return false;
  }

  void await_suspend(std::coroutine_handle<> h);

  caf::expected<caf::actor> await_resume() {
    return std::move(*result);
  }
};

/// Awaitable: spawns a worker of `stage` on `node`.
struct ACTORFLOW_EXPORT spawn_awaiter {
  caf::actor node;
  std::string where;
  caf::message request;
  caf::timespan timeout;
  std::optional<caf::expected<caf::actor>> result;
  /// Set if the node went down before it answered: CAF 0.17 fails a request
  /// to a dead remote actor only at its timeout, so the awaiter watches the
  /// node as well, and the supervisor treats this like a worker lost.
  bool node_lost = false;
  /// The node's exit reason, if `node_lost`.
  caf::error down_reason;

  bool await_ready() const noexcept {
    return false;
  }

  void await_suspend(std::coroutine_handle<> h);

  caf::expected<caf::actor> await_resume() {
    return std::move(*result);
  }
};

/// Awaitable: resumes with the exit reason of `whom` once it is down.
struct ACTORFLOW_EXPORT down_awaiter {
  caf::actor whom;
  caf::error reason;

  bool await_ready() const noexcept {
    return false;
  }

  void await_suspend(std::coroutine_handle<> h);

  caf::error await_resume() {
    return std::move(reason);
  }
};

/// Awaitable: resumes with the index of the first of its channels that has
/// an item (or end-of-stream); never consumes.
template <class... Ts>
struct select_awaiter {
  std::tuple<rx_endpoint<Ts>*...> eps;

  bool await_ready() {
    return std::apply([](auto*... e) { return (e->ready() || ...); }, eps);
  }

  void await_suspend(std::coroutine_handle<> h) {
    std::apply([h](auto*... e) { (e->suspend(h), ...); }, eps);
  }

  int await_resume() {
    // Only one of them resumed us (one message per activation); the others
    // must forget the coroutine before they see their next message.
    std::apply([](auto*... e) { (e->cancel_suspend(), ...); }, eps);
    auto ready = std::apply(
      [](auto*... e) { return std::array<bool, sizeof...(Ts)>{e->ready()...}; },
      eps);
    for (size_t i = 0; i < ready.size(); ++i)
      if (ready[i])
        return static_cast<int>(i);
    return 0;
  }
};

template <class... Ts>
select_awaiter<Ts...> select(receiver<Ts>&... xs) {
  return {{xs.native_endpoint().get()...}};
}

} // namespace actorflow::detail
