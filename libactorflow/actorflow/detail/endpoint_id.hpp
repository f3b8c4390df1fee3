// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/meta/type_name.hpp>

#include "actorflow/detail/export.hpp"

namespace actorflow::detail {

/// Names one channel end across every process of a distributed pipeline:
/// `process` is a random 64-bit tag drawn once per process (again in the
/// child after `fork`), `local` counts the endpoints of that process. Two
/// processes collide only if they draw the same tag (probability about
/// n^2 / 2^65 for n processes, about 3e-18 for ten). The tag is random rather
/// than assigned because endpoints are created by copying handles, anywhere
/// and without a round trip to a coordinator.
struct endpoint_id {
  uint64_t process = 0;
  uint64_t local = 0;

  explicit operator bool() const noexcept {
    return local != 0;
  }

  friend bool operator==(const endpoint_id& x, const endpoint_id& y) noexcept {
    return x.process == y.process && x.local == y.local;
  }

  friend bool operator!=(const endpoint_id& x, const endpoint_id& y) noexcept {
    return !(x == y);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, endpoint_id& x) {
  return f(caf::meta::type_name("actorflow::endpoint_id"), x.process, x.local);
}

/// Returns a globally unique endpoint id (see `endpoint_id`).
ACTORFLOW_EXPORT endpoint_id next_endpoint_id() noexcept;

/// This process's random tag (the `process` part of its endpoint ids).
ACTORFLOW_EXPORT uint64_t process_tag() noexcept;

} // namespace actorflow::detail

template <>
struct std::hash<actorflow::detail::endpoint_id> {
  size_t operator()(const actorflow::detail::endpoint_id& x) const noexcept {
    // The local part varies fastest; mixing in the tag keeps processes apart.
    return static_cast<size_t>(x.local * 0x9E3779B97F4A7C15ull ^ x.process);
  }
};
