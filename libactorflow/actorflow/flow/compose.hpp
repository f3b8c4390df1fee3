// This file is part of actorflow. See README.md for the project's license.

#pragma once

// `flow<T>::compose(f)`: a piece of pipeline written once as a function of a
// flow (as CAF's `observable::compose`), chained with dots like a built-in
// operator. It adds no stage of its own: `f` appends whatever stages it
// likes, so `src.compose(f).then(g)` is `f(src).then(g)`. The distributed
// stages of actorflow/remote.hpp are such functions.

#include <type_traits>
#include <utility>

#include "actorflow/flow/flow_decl.hpp"
#include "actorflow/flow/pipeline.hpp"
#include "actorflow/worker.hpp"

namespace actorflow {

namespace detail {

/// True for `flow<U>`.
template <class F>
struct is_flow : std::false_type {};

template <class U>
struct is_flow<flow<U>> : std::true_type {};

/// What `compose(f)` accepts from `f`: a flow, or a pipeline (ended in a
/// sink).
template <class R>
constexpr bool flow_or_pipeline = is_flow<R>::value || is_pipeline<R>::value;

} // namespace detail

/// @cond
template <class T>
template <class F>
auto flow<T>::compose(F f) && {
  constexpr bool invocable = std::is_invocable_v<F&, flow<T>&&>;
  static_assert(invocable,
                "compose(f): f must be callable with a flow<T> (this flow), "
                "e.g. [](actorflow::flow<int> in) { return "
                "std::move(in).then(g); }");
  using result = typename detail::body_result<invocable, F, flow<T>>::type;
  static_assert(!invocable || detail::flow_or_pipeline<result>,
                "compose(f): f must return the flow it built on (a flow<U>) "
                "or a pipeline ended in a sink");
  if constexpr (invocable && detail::flow_or_pipeline<result>)
    return f(std::move(*this));
  else
    return flow<T>{}; // not reached: a static_assert above failed
}
/// @endcond

} // namespace actorflow
