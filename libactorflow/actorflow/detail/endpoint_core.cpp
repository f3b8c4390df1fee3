// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/detail/endpoint_core.hpp"

#include "actorflow/internal/port.hpp"

#include <caf/all.hpp>

#include "actorflow/error.hpp"

namespace actorflow::detail {

// -- endpoint_core ----------------------------------------------------------

endpoint_core::endpoint_core(caf::actor channel, channel_params params,
                             endpoint_id id)
  : endpoint(id), channel_(std::move(channel)), params_(params) {
  // nop
}

endpoint_core::~endpoint_core() {
  // nop
}

host* endpoint_core::bind_hosted(caf::atom_value bind) {
  auto self = host::current();
  switch (mode_) {
    case mode::hosted:
      if (self == host_)
        return host_;
      throw std::logic_error("actorflow: a channel handle is bound to another "
                             "actor; a handle serves one worker (copy it)");
    case mode::blocking:
      throw std::logic_error("actorflow: co_await on a handle that a plain "
                             "thread used; use a copy per worker");
    case mode::closed:
      throw std::logic_error("actorflow: use of a closed channel handle");
    case mode::unbound:
      break;
  }
  if (self == nullptr)
    throw std::logic_error("actorflow: co_await on a channel handle outside "
                           "an actorflow worker; use blocking_send/recv");
  mode_ = mode::hosted;
  host_ = self;
  if (probe_port_ == nullptr && self->probe()) {
    // A handle the stage got at run time: its items count, the channel is
    // not known to the pipeline's graph.
    probe_owner_ = self->probe();
    probe_port_ = probe_owner_->add_port(bind == bind_rx_atom::value, false,
                                         nullptr, params_.capacity);
  }
  self->add_endpoint(this);
  self->send(channel_, bind, id(), caf::actor_cast<caf::actor>(self));
  return self;
}

void endpoint_core::bind_blocking(const std::shared_ptr<endpoint>& self,
                                  caf::atom_value bind) {
  switch (mode_) {
    case mode::blocking:
      return;
    case mode::hosted:
      throw std::logic_error("actorflow: blocking call on a handle bound to "
                             "a worker; use co_await there");
    case mode::closed:
      throw std::logic_error("actorflow: use of a closed channel handle");
    case mode::unbound:
      break;
  }
  if (host::current() != nullptr)
    throw std::logic_error("actorflow: blocking channel call inside an "
                           "actorflow worker would block a scheduler thread; "
                           "use co_await");
  auto& sys = channel_->home_system();
  port_ = sys.spawn<port>(self);
  mode_ = mode::blocking;
  caf::anon_send(channel_, bind, id(), port_);
}

void endpoint_core::ring_port() {
  if (port_)
    caf::anon_send(port_, ring_atom::value, id());
}

void endpoint_core::finish_close() noexcept {
  auto was = std::exchange(mode_, mode::closed);
  if ((was == mode::hosted || was == mode::blocking) && host_ != nullptr) {
    host_->expect_close_ack();
    host_->remove_endpoint(this);
    host_ = nullptr;
  }
}

} // namespace actorflow::detail
