// This file is part of actorflow. See README.md for the project's license.

// libFuzzer harness: the batch decoder (actorflow/detail/batch.hpp), which
// reads the items of every channel message from a peer process. The first
// input byte picks the item type, the rest is the batch's bytes.
//
// Checked for every input: decoding neither throws nor crashes; it fails
// exactly when it counts a rejected batch; no allocation is larger than the
// input could fill; a blob batch that loads re-serializes to exactly the
// bytes it consumed; a batch in CAF's format re-serializes to bytes that
// load to the same value.

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actorflow/detail/batch.hpp"
#include "actorflow/remote/wire.hpp"

#include "fuzz_support.hpp"

using namespace actorflow_fuzz;
using actorflow::detail::batch;
using actorflow::detail::blob_header;
using actorflow::detail::job;

namespace {

/// An item of 3 bytes: its count bound is a division that rounds.
struct odd3 {
  char bytes[3];
};

static_assert(sizeof(odd3) == 3 && actorflow::detail::is_blob_item<odd3>);

/// The bytes of `x` written by actorflow's encoder.
template <class T>
std::vector<char> encode(batch<T>& x) {
  return to_bytes(nullptr, x);
}

/// Decodes a `batch<T>` from `data` and checks the invariants above.
template <class T>
void check(const char* data, size_t size) {
  constexpr bool blob = actorflow::detail::is_blob_item<T>;
  // A blob is one allocation of n * sizeof(T) <= size bytes; CAF's format
  // grows a vector of at most `size` items (each takes a byte at least);
  // the slack is for error texts.
  size_t limit = (blob ? size : 2 * sizeof(T) * size) + 4096;
  batch<T> x;
  caf::binary_deserializer source{nullptr, data, size};
  auto rejected_before = actorflow::detail::rejected_batches();
  caf::error err;
  {
    alloc_limit guard{limit};
    err = source(x);
  }
  auto rejected = actorflow::detail::rejected_batches() - rejected_before;
  AF_FUZZ_CHECK(rejected == (err ? 1u : 0u));
  if (err)
    return;
  auto consumed = size - source.remaining();
  auto bytes = encode(x);
  if constexpr (blob) {
    AF_FUZZ_CHECK(x.size() * sizeof(T) <= size);
    AF_FUZZ_CHECK(consumed == 12 + x.size() * sizeof(T));
    AF_FUZZ_CHECK(bytes.size() == consumed);
    AF_FUZZ_CHECK(std::memcmp(bytes.data(), data, consumed) == 0);
  } else {
    AF_FUZZ_CHECK(x.size() <= size);
    batch<T> y;
    caf::binary_deserializer again{nullptr, bytes};
    AF_FUZZ_CHECK(!again(y));
    AF_FUZZ_CHECK(again.remaining() == 0);
    AF_FUZZ_CHECK(encode(y) == bytes);
  }
}

using check_fn = void (*)(const char*, size_t);

/// The item types, by the input's first byte (modulo their number).
constexpr check_fn checks[] = {
  check<int32_t>,     check<int64_t>,          check<uint8_t>,
  check<odd3>,        check<job<int32_t>>,     check<job<int64_t>>,
  check<std::string>, check<job<std::string>>,
};

constexpr size_t num_checks = sizeof(checks) / sizeof(checks[0]);

/// The first byte picks the check, the rest is its input.
void check_input(const char* bytes, size_t size) {
  if (size > 0)
    checks[static_cast<uint8_t>(bytes[0]) % num_checks](bytes + 1, size - 1);
}

// -- seeds --------------------------------------------------------------------

/// A blob batch's bytes with any header, count and payload.
std::vector<char> forged(uint32_t header, uint64_t n, size_t payload) {
  auto bytes = to_bytes(nullptr, header, n);
  bytes.resize(bytes.size() + payload, 'x');
  return bytes;
}

std::vector<char> with_selector(uint8_t index, std::vector<char> bytes) {
  bytes.insert(bytes.begin(), static_cast<char>(index));
  return bytes;
}

template <class T>
void blob_seeds(seed_writer& out, const std::string& name, uint8_t index,
                batch<T> three) {
  batch<T> none;
  out.add(name + "_empty", with_selector(index, encode(none)));
  out.add(name + "_three", with_selector(index, encode(three)));
  auto header = blob_header<T>();
  // The count wraps around when multiplied by the item size.
  auto wraps = (~uint64_t{0} / sizeof(T)) + 2;
  out.add(name + "_count_wraps",
          with_selector(index, forged(header, wraps, sizeof(T))));
  out.add(name + "_count_over_payload",
          with_selector(index, forged(header, 1000, 3 * sizeof(T))));
  out.add(name + "_truncated",
          with_selector(index, forged(header, 3, 2 * sizeof(T) + 1)));
  out.add(name + "_other_order",
          with_selector(index, forged(header ^ 3u, 1, sizeof(T))));
  out.add(name + "_other_size",
          with_selector(index, forged(blob_header<char[7]>(), 1, 7)));
  out.add(name + "_header_only",
          with_selector(index, to_bytes(nullptr, header)));
}

void write_seeds(seed_writer& out) {
  blob_seeds<int32_t>(out, "int32", 0, batch<int32_t>{{1, -2, 3}});
  blob_seeds<int64_t>(out, "int64", 1, batch<int64_t>{{1, -2, 1ll << 40}});
  blob_seeds<uint8_t>(out, "uint8", 2, batch<uint8_t>{{0, 0x7f, 0xff}});
  blob_seeds<odd3>(
    out, "odd3", 3,
    batch<odd3>{{odd3{{1, 2, 3}}, odd3{{4, 5, 6}}, odd3{{7, 8, 9}}}});
  blob_seeds<job<int32_t>>(out, "job_int32", 4,
                           batch<job<int32_t>>{{{0, 5}, {1, 6}, {2, 7}}});
  blob_seeds<job<int64_t>>(out, "job_int64", 5,
                           batch<job<int64_t>>{{{9, -1}, {10, 0}, {11, 1}}});
  batch<std::string> words{{"", "a", std::string(200, 'w')}};
  out.add("string_three", with_selector(6, encode(words)));
  batch<std::string> none;
  out.add("string_empty", with_selector(6, encode(none)));
  auto truncated = encode(words);
  truncated.resize(truncated.size() - 50);
  out.add("string_truncated", with_selector(6, truncated));
  batch<job<std::string>> jobs{{{0, "zero"}, {1, ""}, {~uint64_t{0}, "x"}}};
  out.add("job_string_three", with_selector(7, encode(jobs)));
  // A varbyte count of 2^32 - 1 strings, with none following.
  out.add("string_huge_count",
          with_selector(6, {'\xff', '\xff', '\xff', '\xff', '\x0f'}));
}

} // namespace

AF_FUZZ_ENTRY_POINTS(
  write_seeds, [] {}, "the batch decoder", check_input)
