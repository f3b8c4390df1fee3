// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/internal/port.hpp"

#include "actorflow/detail/endpoint_core.hpp"

namespace actorflow::detail {

// -- port -------------------------------------------------------------------

port::port(caf::actor_config& cfg, std::shared_ptr<endpoint> ep)
  : host(cfg), ep_(std::move(ep)) {
  // nop
}

port::~port() {
  // nop
}

const char* port::name() const {
  return "actorflow.port";
}

void port::start() {
  auto ep = static_cast<endpoint_core*>(ep_.get());
  ep->attach_port(this);
  add_endpoint(ep);
}

void port::after_activation() {
  auto ep = static_cast<endpoint_core*>(ep_.get());
  if (ep != nullptr && ep->close_requested()) {
    ep->do_close(); // removes the endpoint from this port
    finish(caf::error{});
  }
}

void port::on_exit() {
  if (ep_) {
    remove_endpoint(ep_.get());
    ep_.reset();
  }
}

} // namespace actorflow::detail
