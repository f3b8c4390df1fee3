// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The builder's own members of `flow<T>`: its constructor, `stage` and
// `sink` (which every operator and sink ends in), `release` and `moved_or`.

#include <functional>
#include <memory>
#include <utility>

#include <caf/error.hpp>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/build_context.hpp"
#include "actorflow/flow/flow_decl.hpp"
#include "actorflow/flow/pipeline.hpp"

namespace actorflow {

// Definitions only: their documentation is on the declarations in
// flow_decl.hpp (doxygen 1.9 does not match member templates defined out of
// line, so it is kept away from these).
/// @cond
template <class T>
flow<T>::flow(detail::build_fn<T> build, caf::error err)
  : build_(std::move(build)), err_(std::move(err)) {
  // nop
}

template <class T>
template <class Acc, class Body>
pipeline<Acc> flow<T>::sink(const char* op, stage_options so, Acc init,
                            Body body) && {
  using start_fn = typename pipeline<Acc>::start_fn;
  if (err_ || !build_)
    return pipeline<Acc>{nullptr, moved_or(err_)};
  if (auto err = detail::check_options(op, so))
    return pipeline<Acc>{nullptr, std::move(err)};
  auto build = std::move(build_);
  start_fn start = [build = std::move(build), init = std::move(init), op,
                    body = std::move(body),
                    so](detail::build_context& ctx) -> std::function<Acc()> {
    auto acc = std::make_shared<Acc>(init);
    if (auto ch = ctx.make_channel<T>(so)) {
      build(ctx, std::move(ch->tx));
      ctx.spawn(ctx.stage_name(op), body, acc, std::move(ch->rx));
    }
    return [acc] {
      return std::move(*acc);
    };
  };
  return pipeline<Acc>{std::move(start), {}};
}

template <class T>
template <class U, class Body>
flow<U> flow<T>::stage(const char* op, stage_options so, Body body) && {
  if (err_ || !build_)
    return flow<U>{nullptr, moved_or(err_)};
  if (auto err = detail::check_options(op, so))
    return flow<U>{nullptr, std::move(err)};
  auto build = std::move(build_);
  return flow<U>{[build = std::move(build), op, so, body = std::move(body)](
                   detail::build_context& ctx, sender<U> out) {
    auto ch = ctx.make_channel<T>(so);
    if (!ch)
      return;
    build(ctx, std::move(ch->tx));
    ctx.spawn(ctx.stage_name(op), body, std::move(ch->rx), std::move(out));
  }};
}

template <class T>
std::pair<detail::build_fn<T>, caf::error> flow<T>::release() && {
  if (err_ || !build_)
    return {nullptr, moved_or(err_)};
  return {std::exchange(build_, nullptr), caf::error{}};
}

template <class T>
caf::error flow<T>::moved_or(const caf::error& err) {
  if (err)
    return err;
  return make_error(error_code::invalid_argument,
                    "a flow builder was used after it was moved from (each "
                    "operator consumes its builder)");
}

/// @endcond

} // namespace actorflow
