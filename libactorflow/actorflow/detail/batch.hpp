// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/deserializer.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>
#include <caf/serializer.hpp>

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

/// The most bytes one blob batch may announce (a guard against garbage).
constexpr uint64_t max_blob_bytes = uint64_t{1} << 31;

/// A batch of trivially copyable items is one block of bytes on the wire (a
/// header, the count, then the items' memory): CAF 0.17 would otherwise
/// serialize every item through a virtual call, which caps a link between two
/// processes at about 10M small items/s. Other items use CAF's format.
template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, batch<T>& x) {
  constexpr bool saving = std::is_base_of_v<caf::serializer, Inspector>;
  constexpr bool loading = std::is_base_of_v<caf::deserializer, Inspector>;
  if constexpr (is_blob_item<T> && (saving || loading)) {
    uint32_t header = blob_header<T>();
    uint64_t n = x.size();
    if (auto err = f(caf::meta::type_name("actorflow::batch"), header, n))
      return err;
    if constexpr (loading) {
      if (header != blob_header<T>())
        return caf::make_error(caf::sec::invalid_argument,
                               "actorflow: batch item layout differs between "
                               "the two processes (sizeof or byte order)");
      if (n * sizeof(T) > max_blob_bytes)
        return caf::make_error(caf::sec::invalid_argument,
                               "actorflow: oversized batch on the wire");
      x.resize(static_cast<size_t>(n));
    }
    if (n == 0)
      return caf::error{};
    return f.apply_raw(static_cast<size_t>(n * sizeof(T)), x.data());
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
