// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <coroutine>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/sec.hpp>

#include "actorflow/detail/host.hpp"

namespace actorflow {

/// Awaitable request/response from inside a worker: sends `xs...` to `whom`
/// and resumes with the response of type `R`, or with the error (a timeout,
/// the receiver being down, or the error it replied with). The worker's actor
/// is not blocked meanwhile: other messages (items, credit) keep flowing.
///
/// ~~~
/// auto price = co_await actorflow::ask<double>(pricer, std::chrono::seconds(1),
///                                              item_id);
/// if (!price)
///   co_return; // price.error() says why
/// ~~~
template <class R, class Timeout, class... Ts>
auto ask(caf::actor whom, Timeout timeout, Ts... xs) {
  struct awaiter {
    caf::actor whom;
    Timeout timeout;
    std::tuple<Ts...> args;
    std::optional<caf::expected<R>> result;

    bool await_ready() const noexcept {
      return false;
    }

    void await_suspend(std::coroutine_handle<> h) {
      auto self = detail::host::current();
      if (self == nullptr)
        throw std::logic_error("actorflow::ask outside an actorflow worker");
      if (!whom) {
        result.emplace(caf::make_error(caf::sec::invalid_argument,
                                       "actorflow::ask: invalid actor handle"));
        self->make_ready(h);
        return;
      }
      std::apply(
        [&](auto&... ys) {
          self->request(whom, timeout, std::move(ys)...)
            .then(
              [this, h, self](R& r) {
                result.emplace(std::move(r));
                self->resume_from_callback(h);
              },
              [this, h, self](caf::error& err) {
                result.emplace(std::move(err));
                self->resume_from_callback(h);
              });
        },
        args);
    }

    caf::expected<R> await_resume() {
      return std::move(*result);
    }
  };
  return awaiter{std::move(whom), timeout, std::make_tuple(std::move(xs)...),
                 std::nullopt};
}

} // namespace actorflow
