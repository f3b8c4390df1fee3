// This file is part of actorflow. See README.md for the project's license.

#pragma once

// `remote_parallel_then`: a parallel stage whose workers run on nodes (and
// locally), while its scatter and gather stay in the driver.

#include <string>
#include <utility>

#include "actorflow/flow.hpp"
#include "actorflow/remote/detail/remote_stage.hpp"
#include "actorflow/remote/remote_options.hpp"

namespace actorflow {

/// Like `parallel_then`, with workers placed on nodes (and locally): the
/// stage `stage` (registered on every node named in `where`, and in
/// `opts.local_stages` for local workers) maps each item to an `Out`; items
/// leave in input order. Connecting and spawning happen when the pipeline
/// starts; an unknown stage, differing item types, an unreachable node or a
/// node that does not answer in time fail the pipeline with
/// `unknown_stage`, `type_mismatch`, `connect_failed` or `timeout`.
///
/// A worker lost mid-stream (its node killed, hung beyond the heartbeat's
/// connection timeout, or disconnected) is survived: the items it may have
/// held go to the other workers again. The output is exactly-once and in
/// order; the stage function may run more than once for an item (make it
/// free of side effects, or idempotent). When every worker is lost, the
/// pipeline fails with `workers_lost`.
///
/// ~~~
/// auto squares = actorflow::remote_parallel_then<int64_t>(
///   actorflow::iota(int32_t{0}, int32_t{1000}),
///   {{"127.0.0.1:4242", 2}, {"127.0.0.1:4243", 2}}, "square");
/// auto v = std::move(squares).collect().run(sys);
/// ~~~
template <class Out, class In>
flow<Out> remote_parallel_then(flow<In> upstream, placement where,
                               std::string stage, remote_options opts = {}) {
  return detail::remote_stage<Out>(std::move(upstream), std::move(where),
                                   std::move(stage), std::move(opts),
                                   "remote_parallel_then",
                                   detail::spawn_remote_gather_ordered<Out>);
}

/// Like `remote_parallel_then`, but items leave in completion order.
template <class Out, class In>
flow<Out> remote_parallel_then_unordered(flow<In> upstream, placement where,
                                         std::string stage,
                                         remote_options opts = {}) {
  return detail::remote_stage<Out>(std::move(upstream), std::move(where),
                                   std::move(stage), std::move(opts),
                                   "remote_parallel_then_unordered",
                                   detail::spawn_remote_gather_unordered<Out>);
}

} // namespace actorflow
