// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/type_erased_tuple.hpp>

#include "actorflow/detail/atoms.hpp"
#include "actorflow/detail/batch.hpp"
#include "actorflow/detail/channel_params.hpp"
#include "actorflow/detail/host.hpp"

namespace actorflow::detail {

/// State common to both kinds of endpoint: binding and blocking support.
class ACTORFLOW_EXPORT endpoint_core : public endpoint {
public:
  enum class mode : uint8_t { unbound, hosted, blocking, closed };

  endpoint_core(caf::actor channel, channel_params params,
                endpoint_id id = next_endpoint_id());

  ~endpoint_core() override;

  mode current_mode() const noexcept {
    return mode_;
  }

  const caf::actor& channel() const noexcept {
    return channel_;
  }

  channel_params params() const noexcept {
    return params_;
  }

  /// The stop flag of the host this endpoint is bound to (see
  /// `host::stop_requested`). Only valid while bound to a host.
  const std::atomic<bool>& stop_flag() const noexcept {
    return host_->stop_flag();
  }

  /// Closes the endpoint from the context it lives in. A blocking endpoint
  /// asks its port to close it, so that the port sees every message that was
  /// in flight to it before it quits.
  void close() {
    if (mode_ == mode::blocking) {
      {
        std::lock_guard guard{mtx_};
        if (close_requested_)
          return;
        close_requested_ = true;
      }
      ring_port();
      return;
    }
    do_close();
  }

  /// Performs the close (in the worker or in the port).
  virtual void do_close() = 0;

  bool close_requested() {
    std::lock_guard guard{mtx_};
    return close_requested_ && mode_ != mode::closed;
  }

  /// Called by a port when it starts hosting this endpoint.
  void attach_port(host* p) noexcept {
    host_ = p;
  }

  /// Makes this endpoint count its items in `port` (owned by `owner`).
  /// Called before the endpoint is used (pipeline building); otherwise a
  /// hosted endpoint picks a port of its host's probe when it binds.
  void set_probe(std::shared_ptr<stage_probe> owner, port_probe* port) {
    probe_owner_ = std::move(owner);
    probe_port_ = port;
  }

protected:
  /// Binds to the calling context on first use and checks later uses. Returns
  /// the host for hosted use, nullptr for blocking use.
  host* bind_hosted(caf::atom_value bind);
  void bind_blocking(const std::shared_ptr<endpoint>& self,
                     caf::atom_value bind);

  /// Sends from whichever context the endpoint lives in.
  template <class... Ts>
  void to_channel(Ts&&... xs) {
    if (mode_ == mode::hosted)
      host_->send(channel_, std::forward<Ts>(xs)...);
    else
      caf::anon_send(channel_, std::forward<Ts>(xs)...);
  }

  /// Wakes the port so that its `flush` runs.
  void ring_port();

  /// Asks the host (worker or port) to call `flush` at the end of its
  /// activation. Only called from the host's context.
  void mark_dirty() {
    if (host_ != nullptr && !dirty)
      host_->mark_dirty(this);
  }

  /// Marks the endpoint closed; its host waits for the channel's ack.
  void finish_close() noexcept;

  caf::actor channel_;
  channel_params params_;
  mode mode_ = mode::unbound;
  host* host_ = nullptr;
  caf::actor port_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool ring_pending_ = false;
  bool close_requested_ = false;
  // Statistics (pipeline stages only): where this end counts its items.
  std::shared_ptr<stage_probe> probe_owner_;
  port_probe* probe_port_ = nullptr;
};

} // namespace actorflow::detail
