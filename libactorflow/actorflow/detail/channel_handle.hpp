// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <memory>
#include <utility>

#include <caf/send.hpp>

#include "actorflow/channel_metrics.hpp"
#include "actorflow/detail/channel_params.hpp"

namespace actorflow::detail {

/// What `sender<T>` and `receiver<T>` share: ownership of one endpoint, copy
/// as "open another endpoint of the same channel", close on destruction.
template <class Endpoint, class OpenAtom>
class channel_handle {
public:
  channel_handle() noexcept = default;

  /// @private Used by `channel`.
  channel_handle(std::shared_ptr<Endpoint> ep,
                 std::shared_ptr<channel_stats> stats) noexcept
    : ep_(std::move(ep)), stats_(std::move(stats)) {
    // nop
  }

  /// A copy is another endpoint of the same channel. The channel learns of it
  /// before this constructor returns (a synchronous enqueue), so it counts the
  /// copy before the original could possibly close.
  channel_handle(const channel_handle& other) : stats_(other.stats_) {
    if (other.ep_) {
      ep_ = std::make_shared<Endpoint>(other.ep_->channel(),
                                       other.ep_->params());
      caf::anon_send(ep_->channel(), OpenAtom::value, ep_->id());
    }
  }

  channel_handle(channel_handle&&) noexcept = default;

  channel_handle& operator=(const channel_handle& other) {
    if (this != &other)
      *this = channel_handle{other};
    return *this;
  }

  channel_handle& operator=(channel_handle&& other) noexcept {
    if (this != &other) {
      close();
      ep_ = std::move(other.ep_);
      stats_ = std::move(other.stats_);
    }
    return *this;
  }

  ~channel_handle() {
    close();
  }

  /// True unless moved from or closed.
  explicit operator bool() const noexcept {
    return static_cast<bool>(ep_);
  }

  /// Releases this end. Idempotent.
  void close() {
    if (ep_) {
      ep_->close();
      ep_.reset();
    }
  }

  /// The channel's instruments.
  channel_metrics metrics() const {
    return snapshot(stats_);
  }

  /// @private The endpoint behind this handle (null once moved from or
  /// closed).
  Endpoint* endpoint() const noexcept {
    return ep_.get();
  }

  /// @private The channel's shared instruments; identifies the channel.
  const std::shared_ptr<channel_stats>& channel_stats_ptr() const noexcept {
    return stats_;
  }

  /// @private The endpoint (for `export_handle` and `select`).
  const std::shared_ptr<Endpoint>& native_endpoint() const noexcept {
    return ep_;
  }

protected:
  std::shared_ptr<Endpoint> ep_;
  std::shared_ptr<channel_stats> stats_;
};

} // namespace actorflow::detail
