// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <chrono>
#include <string>

#include "actorflow/detail/export.hpp"

namespace actorflow::detail {

/// A duration in a short human unit ("850 ns", "12.5 us", "3.4 ms", "2.1 s");
/// "-" for none. For the renderings of statistics (table, graphs, pages).
ACTORFLOW_EXPORT std::string duration_text(std::chrono::nanoseconds x);

} // namespace actorflow::detail
