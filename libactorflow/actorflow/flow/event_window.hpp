// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <chrono>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace actorflow {

/// The items of one event-time window, [start, end) on the items' own
/// clock, in the order they came (see `flow::event_tumbling`).
///
/// ~~~
/// for (auto& w : windows)
///   std::cout << w.start.count() << ": " << w.items.size() << " items\n";
/// ~~~
template <class T>
struct event_window {
  /// The window's first time.
  std::chrono::nanoseconds start{0};
  /// The first time after the window.
  std::chrono::nanoseconds end{0};
  /// The items whose time falls into the window.
  std::vector<T> items;

  /// Same window, same items.
  friend bool operator==(const event_window&, const event_window&) = default;
};

/// @private CAF's inspection (windows travel through channels).
template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, event_window<T>& x) {
  return f(caf::meta::type_name("actorflow::event_window"), x.start, x.end,
           x.items);
}

} // namespace actorflow
