// This file is part of actorflow. See README.md for the project's license.
//
// tbb_source.hpp: the source that the oneTBB peers share (W1's
// parallel_pipeline and flow graph, W2's parallel_pipeline); only their
// tbb.cpp files include it, and with it oneTBB.

#pragma once

#include <oneapi/tbb/parallel_pipeline.h>

namespace bench {

/// The body of a oneTBB source, a parallel_pipeline's first (serial) filter
/// or a flow graph's input_node: yields `next`, `next` + 1, ..., `n` - 1,
/// then stops the pipeline. `next` lives with the caller, since oneTBB calls
/// copies of the body.
template <class T>
auto tbb_counter(T& next, T n) {
  return [&next, n](tbb::flow_control& fc) {
    if (next >= n) {
      fc.stop();
      return T{0};
    }
    return next++;
  };
}

} // namespace bench
