// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/error_policy.hpp"

#include <string>

namespace actorflow {

std::string to_string(failure_action x) {
  switch (x) {
    case failure_action::retry:
      return "retry";
    case failure_action::skip:
      return "skip";
    case failure_action::fail:
      return "fail";
  }
  return "unknown_failure_action";
}

} // namespace actorflow
