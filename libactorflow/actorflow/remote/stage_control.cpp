// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote/stage_control.hpp"

#include "actorflow/remote/detail/join.hpp"

namespace actorflow {

stage_control::stage_control()
  : state_(std::make_shared<detail::control_state>()) {
  // nop
}

caf::error stage_control::add_workers(const std::string& where,
                                      size_t workers) const {
  return state_->add_workers(where, workers);
}

caf::expected<size_t> stage_control::drain(const std::string& where,
                                           caf::timespan timeout) const {
  return state_->drain(where, timeout);
}

bool stage_control::running() const {
  return state_->running();
}

size_t stage_control::joined() const {
  return state_->joined();
}

} // namespace actorflow
