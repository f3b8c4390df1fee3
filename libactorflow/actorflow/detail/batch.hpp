// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/deserializer.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>
#include <caf/serializer.hpp>

#include "actorflow/detail/export.hpp"

namespace actorflow::detail {

/// The items of one protocol message (push, items, close, returned items).
/// A `std::vector<T>` in every respect; the own type only exists so that a
/// batch has its own wire format (see `inspect` below).
template <class T>
struct batch : std::vector<T> {
  using super = std::vector<T>;

  batch() = default;

  batch(super&& xs) noexcept : super(std::move(xs)) {
    // nop
  }

  batch(const batch&) = default;
  batch(batch&&) noexcept = default;
  batch& operator=(const batch&) = default;
  batch& operator=(batch&&) noexcept = default;
};

/// True if a batch of `T` crosses the wire as one block of bytes.
template <class T>
constexpr bool is_blob_item
  = std::is_trivially_copyable_v<
      T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T> && std::is_default_constructible_v<T>;

/// Header of a blob batch: the item size and the byte order of the writer,
/// so that a reader built with a different layout of `T` (or on a host of the
/// other byte order) fails with an error instead of misreading items.
template <class T>
constexpr uint32_t blob_header() {
  constexpr uint32_t one = 1;
  // 0x01 on little-endian writers, 0x02 on big-endian ones.
  constexpr uint32_t order = std::endian::native == std::endian::little ? 1 : 2;
  static_assert(sizeof(T) < (uint32_t{1} << 24));
  return (static_cast<uint32_t>(sizeof(T)) << 8) | order | (one << 31);
}

/// The most bytes one blob batch may announce, whatever the input holds.
constexpr uint64_t max_blob_bytes = uint64_t{1} << 31;

/// How many items of `T` a blob batch read by `f` may announce: no more than
/// the rest of the message holds (so a forged count never allocates more
/// than the peer actually sent), and never over `max_blob_bytes`. Written
/// as divisions, since a product with a forged count can wrap around.
template <class T>
uint64_t max_blob_items(caf::deserializer& f) noexcept {
  uint64_t bytes = max_blob_bytes;
  if (auto bin = dynamic_cast<caf::binary_deserializer*>(&f))
    bytes = std::min<uint64_t>(bytes, bin->remaining());
  return bytes / sizeof(T);
}

/// Counts a batch from a peer that failed to load (see `rejected_batches`).
ACTORFLOW_EXPORT void count_rejected_batch() noexcept;

/// How many batches from peers this process refused to load so far.
ACTORFLOW_EXPORT uint64_t rejected_batches() noexcept;

/// Counts `err` as a rejected batch, if it is an error.
inline caf::error count_if_rejected(caf::error err) noexcept {
  if (err)
    count_rejected_batch();
  return err;
}

/// Reads a blob batch (see `inspect` below). Never throws: a peer's bytes
/// that do not describe a batch are a deserialization error, which CAF
/// answers by dropping the message.
template <class T>
caf::error load_blob(caf::deserializer& f, batch<T>& x) noexcept {
  uint32_t header = 0;
  uint64_t n = 0;
  if (auto err = f(caf::meta::type_name("actorflow::batch"), header, n))
    return count_if_rejected(std::move(err));
  if (header != blob_header<T>())
    return count_if_rejected(caf::make_error(
      caf::sec::invalid_argument, "actorflow: batch item layout differs "
                                  "between the two processes (sizeof or "
                                  "byte order)"));
  if (n > max_blob_items<T>(f))
    return count_if_rejected(caf::make_error(
      caf::sec::invalid_argument, "actorflow: a batch announces more items "
                                  "than its message holds"));
  try {
    x.resize(static_cast<size_t>(n));
  } catch (...) {
    return count_if_rejected(caf::make_error(
      caf::sec::invalid_argument, "actorflow: no memory for a batch"));
  }
  if (n == 0)
    return caf::error{};
  return count_if_rejected(
    f.apply_raw(static_cast<size_t>(n) * sizeof(T), x.data()));
}

/// A batch of trivially copyable items is one block of bytes on the wire (a
/// header, the count, then the items' memory): CAF 0.17 would otherwise
/// serialize every item through a virtual call, which caps a link between two
/// processes at about 10M small items/s. Other items use CAF's format.
template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, batch<T>& x) {
  constexpr bool saving = std::is_base_of_v<caf::serializer, Inspector>;
  constexpr bool loading = std::is_base_of_v<caf::deserializer, Inspector>;
  if constexpr (is_blob_item<T> && loading) {
    return load_blob(f, x);
  } else if constexpr (is_blob_item<T> && saving) {
    uint32_t header = blob_header<T>();
    uint64_t n = x.size();
    if (auto err = f(caf::meta::type_name("actorflow::batch"), header, n))
      return err;
    if (n == 0)
      return caf::error{};
    return f.apply_raw(static_cast<size_t>(n) * sizeof(T), x.data());
  } else if constexpr (loading) {
    // CAF's format reads item by item and fails at the end of the input,
    // but an item's own inspect may throw (a user type): that is a
    // deserialization error too.
    try {
      return count_if_rejected(f(caf::meta::type_name("actorflow::batch"),
                                 static_cast<std::vector<T>&>(x)));
    } catch (...) {
      return count_if_rejected(caf::make_error(
        caf::sec::invalid_argument, "actorflow: an item of a batch failed "
                                    "to load"));
    }
  } else if constexpr (is_blob_item<T> && !Inspector::writes_state) {
    // Rendering (to_string): a blob item may have no inspect overload.
    uint64_t n = x.size();
    return f(caf::meta::type_name("actorflow::batch"), n);
  } else {
    return f(caf::meta::type_name("actorflow::batch"),
             static_cast<std::vector<T>&>(x));
  }
}

} // namespace actorflow::detail
