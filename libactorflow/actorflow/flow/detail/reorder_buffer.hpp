// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace actorflow::detail {

/// Restores sequence order: values arrive keyed by sequence number (0, 1,
/// 2, ... each once) in any order and leave in sequence order. A fixed
/// window of `window` slots, allocated once: slot `seq % window` holds the
/// value of `seq` until every value before it left, so the buffer never
/// holds more than `window` values, however late the one at the head is.
/// Bounding the distance between the oldest missing and the newest arriving
/// value to `window` is the caller's part (the local gather's reorder gate,
/// the remote gather's window of unacknowledged items); `file` refuses
/// what falls outside.
///
/// ~~~
/// reorder_buffer<int> buf{4};
/// buf.file(1, 10);                              // held: 0 is missing
/// buf.file(0, 0);
/// buf.pop_ready([](int& x) { emit(x); return true; }); // emits 0, 10
/// ~~~
template <class T>
class reorder_buffer {
public:
  explicit reorder_buffer(size_t window) : slots_(window) {
    // nop
  }

  /// How many values the buffer holds at most.
  size_t window() const noexcept {
    return slots_.size();
  }

  /// The sequence number of the head: every value before it left.
  uint64_t next() const noexcept {
    return next_;
  }

  /// Files the value of `seq`. Returns false, and drops `x`, if `seq` left
  /// already, was filed already, or is `window` or more ahead of `next()`.
  bool file(uint64_t seq, T&& x) {
    if (seq - next_ >= slots_.size()) // also true for seq < next_
      return false;
    auto& slot = slots_[seq % slots_.size()];
    if (slot)
      return false;
    slot.emplace(std::move(x));
    return true;
  }

  /// The value at the head, moved out, if it arrived; else nothing.
  std::optional<T> pop() {
    auto& slot = slots_[next_ % slots_.size()];
    if (!slot)
      return std::nullopt;
    auto x = std::move(slot);
    slot.reset();
    ++next_;
    return x;
  }

  /// Hands the run of values at the head to `fn(T&) -> bool`, in sequence
  /// order, until a value has not arrived or `fn` returns false (that value
  /// then stays at the head). Returns how many values left.
  template <class Fn>
  size_t pop_ready(Fn&& fn) {
    size_t n = 0;
    for (;;) {
      auto& slot = slots_[next_ % slots_.size()];
      if (!slot || !fn(*slot))
        return n;
      slot.reset();
      ++next_;
      ++n;
    }
  }

private:
  std::vector<std::optional<T>> slots_;
  uint64_t next_ = 0;
};

} // namespace actorflow::detail
