// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace actorflow {

std::string to_string(error_code x) {
  switch (x) {
    case error_code::none:
      return "none";
    case error_code::invalid_capacity:
      return "invalid_capacity";
    case error_code::invalid_argument:
      return "invalid_argument";
    case error_code::worker_failed:
      return "worker_failed";
    case error_code::invalid_handle:
      return "invalid_handle";
    case error_code::wrong_context:
      return "wrong_context";
    case error_code::receivers_gone:
      return "receivers_gone";
    case error_code::peer_lost:
      return "peer_lost";
    case error_code::cancelled:
      return "cancelled";
    case error_code::unknown_stage:
      return "unknown_stage";
    case error_code::type_mismatch:
      return "type_mismatch";
    case error_code::connect_failed:
      return "connect_failed";
    case error_code::timeout:
      return "timeout";
    case error_code::workers_lost:
      return "workers_lost";
    case error_code::listen_failed:
      return "listen_failed";
    case error_code::stalled:
      return "stalled";
    case error_code::not_running:
      return "not_running";
    case error_code::drained:
      return "drained";
  }
  return "unknown_actorflow_error";
}

caf::error make_error(error_code x, std::string what) {
  return caf::error{static_cast<uint8_t>(x), error_category,
                    caf::make_message(std::move(what))};
}

caf::error make_error(error_code x) {
  return caf::error{static_cast<uint8_t>(x), error_category};
}

error_exception::error_exception(caf::error err)
  : std::runtime_error(to_string_any(err)), err_(std::move(err)) {
  // nop
}

std::string what(const caf::error& x) {
  // CAF 0.17 reads the category of an empty error through a null pointer.
  if (!x)
    return {};
  if (x.category() == error_category
      && x.context().match_elements<std::string>())
    return x.context().get_as<std::string>(0);
  return {};
}

namespace {

std::string render(uint8_t code, const caf::message& ctx) {
  std::string result = "actorflow::";
  result += to_string(static_cast<error_code>(code));
  if (ctx.match_elements<std::string>()) {
    result += ": ";
    result += ctx.get_as<std::string>(0);
  }
  return result;
}

} // namespace

std::string to_string_any(const caf::error& x) {
  if (!x)
    return "none";
  if (x.category() == error_category)
    return render(x.code(), x.context());
  return caf::to_string(x);
}

namespace detail {

void add_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value,
                                            const caf::message& ctx) {
    return render(code, ctx);
  });
}

} // namespace detail

} // namespace actorflow
