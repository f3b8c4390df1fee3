// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <chrono>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace actorflow {

/// The items of one key in one window, [start, end), in the order they came
/// (see `flow::key_by`). Event-time windows count on the items' own clock;
/// processing-time windows on the run's clock (its time since its epoch).
///
/// ~~~
/// for (auto& w : windows)
///   std::cout << w.key << " at " << w.start.count() << ": "
///             << w.items.size() << " items\n";
/// ~~~
template <class K, class T>
struct keyed_window {
  /// The key all the items share.
  K key{};
  /// The window's first time.
  std::chrono::nanoseconds start{0};
  /// The first time after the window.
  std::chrono::nanoseconds end{0};
  /// The items of the key whose time falls into the window.
  std::vector<T> items;

  /// Same key, same window, same items.
  friend bool operator==(const keyed_window&, const keyed_window&) = default;
};

/// @private CAF's inspection (windows travel through channels).
template <class Inspector, class K, class T>
typename Inspector::result_type inspect(Inspector& f, keyed_window<K, T>& x) {
  return f(caf::meta::type_name("actorflow::keyed_window"), x.key, x.start,
           x.end, x.items);
}

} // namespace actorflow
