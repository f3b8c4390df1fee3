// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/detail/timer.hpp"

#include <stdexcept>
#include <utility>

#include <caf/all.hpp>

#include "actorflow/detail/atoms.hpp"

namespace actorflow::detail {

namespace {

host* current_host() {
  auto self = host::current();
  if (self == nullptr)
    throw std::logic_error("actorflow: a timer outside an actorflow worker");
  return self;
}

} // namespace

timer::timer(std::function<void()> on_fire)
  : endpoint(next_endpoint_id()),
    host_(current_host()),
    clock_(host_->clock()),
    on_fire_(std::move(on_fire)) {
  host_->add_endpoint(this);
}

timer::~timer() {
  host_->remove_endpoint(this);
}

void timer::arm(actorflow::clock::time_point at) {
  ++generation_;
  armed_ = true;
  clock_->schedule(at, caf::actor_cast<caf::actor>(host_),
                   caf::make_message(tick_atom::value, id(), generation_));
}

void timer::handle(caf::type_erased_tuple& msg) {
  if (!msg.match_elements<tick_atom, endpoint_id, uint64_t>())
    return;
  if (!armed_ || msg.get_as<uint64_t>(2) != generation_)
    return; // an older arming, or disarmed
  armed_ = false;
  fired_ = true;
  if (waiter_)
    host_->make_ready(std::exchange(waiter_, nullptr));
  if (on_fire_)
    on_fire_();
}

void timer::flush() {
  // nop: a timer sends nothing at the end of an activation
}

} // namespace actorflow::detail
