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

namespace detail {

/// A remote stage not yet attached to its upstream, for `flow<T>::compose`:
/// what the step forms of `remote_parallel_then` and `remote_then` return.
template <class Out, bool Ordered>
struct remote_step {
  placement where;
  std::string stage;
  remote_options opts;

  template <class In>
  flow<Out> operator()(flow<In>&& upstream) const {
    if constexpr (Ordered)
      return remote_parallel_then<Out>(std::move(upstream), where, stage, opts);
    else
      return remote_parallel_then_unordered<Out>(std::move(upstream), where,
                                                 stage, opts);
  }
};

} // namespace detail

/// `remote_parallel_then` as a step that chains with dots through
/// `flow<T>::compose`.
///
/// ~~~
/// auto squares = actorflow::iota(int32_t{0}, int32_t{1000})
///                  .compose(actorflow::remote_parallel_then<int64_t>(
///                    {{"127.0.0.1:4242", 2}, {"127.0.0.1:4243", 2}},
///                    "square"))
///                  .collect()
///                  .run(sys);
/// ~~~
template <class Out>
detail::remote_step<Out, true> remote_parallel_then(placement where,
                                                    std::string stage,
                                                    remote_options opts = {}) {
  return {std::move(where), std::move(stage), std::move(opts)};
}

/// `remote_parallel_then_unordered` as a step for `flow<T>::compose`.
template <class Out>
detail::remote_step<Out, false> remote_parallel_then_unordered(
  placement where, std::string stage, remote_options opts = {}) {
  return {std::move(where), std::move(stage), std::move(opts)};
}

/// One stage actor on the node at `node` ("host:port", or "local"): the
/// stage `stage` registered there maps each item to an `Out`, in order, with
/// the channel's bound across the wire. A step for `flow<T>::compose`; the
/// errors and the failure semantics are those of `remote_parallel_then`
/// with one worker (a lost node fails the pipeline with `workers_lost`).
///
/// ~~~
/// auto lengths = lines.compose(
///   actorflow::remote_then<int64_t>("127.0.0.1:4242", "length"));
/// ~~~
template <class Out>
detail::remote_step<Out, true> remote_then(std::string node, std::string stage,
                                           remote_options opts = {}) {
  return {placement{workers_at{std::move(node), 1}}, std::move(stage),
          std::move(opts)};
}

} // namespace actorflow
