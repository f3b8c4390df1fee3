// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/flow.hpp"

#include <exception>
#include <stdexcept>
#include <string>

namespace actorflow::detail {

void rethrow_at(size_t index) {
  try {
    throw;
  } catch (const std::exception& ex) {
    throw std::runtime_error("item " + std::to_string(index) + ": "
                             + ex.what());
  } catch (...) {
    throw std::runtime_error("item " + std::to_string(index)
                             + ": an exception not derived from "
                               "std::exception");
  }
}

} // namespace actorflow::detail
