// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The shape of a pipeline as its statistics describe it, for the readers
// that walk it (stall_watchdog, pipeline_view).

#include <cstddef>
#include <vector>

#include "actorflow/stats.hpp"

namespace actorflow::internal {

/// True for an edge between two stages that carries items (not tokens).
inline bool data_edge(const edge_stats& e) noexcept {
  return !e.control && e.from != edge_stats::outside
         && e.to != edge_stats::outside;
}

/// Per stage: true if a data edge leads from it to another stage. The
/// stages marked false are the pipeline's last ones (sinks, or stages that
/// send out of the pipeline).
inline std::vector<bool> feeds_a_stage(const pipeline_stats& st) {
  std::vector<bool> result(st.stages.size(), false);
  for (auto& e : st.edges)
    if (data_edge(e) && e.from < result.size())
      result[e.from] = true;
  return result;
}

} // namespace actorflow::internal
