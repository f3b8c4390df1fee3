// This file is part of actorflow. See README.md for the project's license.

// libFuzzer harness: `remote_handle` (detail::wire_handle) and
// `endpoint_id`, the protocol types of actorflow/remote/wire.hpp that a node
// decodes from a driver's spawn request and channel messages. The first
// input byte picks the type, the rest is its bytes; actor handles of other
// nodes become proxies as in CAF's BASP broker.
//
// Checked for every input: decoding neither throws nor crashes nor
// allocates more than the input could fill; a value that loads
// re-serializes to exactly the bytes it consumed, except for the actor
// handle of a channel on an invalid node id (CAF's normalization, see
// node_support.hpp); the re-serialized bytes load again; a handle imports as a sender or receiver exactly when it is well formed for
// that end, and a well-formed one has settings a channel can have.

#include <cstdint>
#include <cstring>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actorflow/remote/wire.hpp"

#include "fuzz_support.hpp"
#include "node_support.hpp"

using namespace actorflow_fuzz;
using actorflow::remote_handle;
using actorflow::detail::endpoint_id;
using actorflow::detail::job;

namespace {

/// Decodes a `T` from `data`; returns the bytes consumed, or -1.
template <class T>
ptrdiff_t decode(T& x, const char* data, size_t size) {
  caf::binary_deserializer source{env().ctx.get(), data, size};
  alloc_limit guard{size + 4096};
  if (source(x))
    return -1;
  return static_cast<ptrdiff_t>(size - source.remaining());
}

template <class T>
std::vector<char> encode(T& x) {
  return to_bytes(env().ctx.get(), x);
}

void check_handle(const char* data, size_t size) {
  remote_handle h;
  auto consumed = decode(h, data, size);
  if (consumed < 0)
    return;
  auto bytes = encode(h);
  // actorflow's fields re-serialize to exactly the bytes they came from.
  AF_FUZZ_CHECK(static_cast<size_t>(consumed) >= handle_fields_size);
  AF_FUZZ_CHECK(bytes.size() >= handle_fields_size);
  AF_FUZZ_CHECK(std::memcmp(bytes.data() + bytes.size() - handle_fields_size,
                            data + consumed - handle_fields_size,
                            handle_fields_size)
                == 0);
  if (h.channel && bytes.size() != static_cast<size_t>(consumed)) {
    // Only CAF's part may differ, and only for an invalid node id (see
    // same_fields): the handle then re-serializes as one of no node.
    AF_FUZZ_CHECK(h.channel.node() != caf::none);
    AF_FUZZ_CHECK(to_string(h.channel.node()) == "invalid-node");
  }
  remote_handle again;
  AF_FUZZ_CHECK(decode(again, bytes.data(), bytes.size())
                == static_cast<ptrdiff_t>(bytes.size()));
  AF_FUZZ_CHECK(same_fields(h, again));
  for (uint8_t kind : {uint8_t{1}, uint8_t{2}}) {
    if (!actorflow::detail::well_formed(h, kind))
      continue;
    AF_FUZZ_CHECK(h.kind == kind && h.channel);
    AF_FUZZ_CHECK(h.capacity >= 1 && h.batch >= 1 && h.batch <= h.capacity);
    AF_FUZZ_CHECK(h.capacity <= actorflow::detail::max_channel_capacity);
  }
  // What the node does with the handles of a spawn request (the worker then
  // binds them; an unbound handle that goes away sends nothing).
  auto tx = actorflow::import_sender<job<int64_t>>(h);
  AF_FUZZ_CHECK(static_cast<bool>(tx) == actorflow::detail::well_formed(h, 1));
  auto rx = actorflow::import_receiver<job<int32_t>>(h);
  AF_FUZZ_CHECK(static_cast<bool>(rx) == actorflow::detail::well_formed(h, 2));
}

void check_endpoint_id(const char* data, size_t size) {
  endpoint_id id;
  auto consumed = decode(id, data, size);
  if (consumed < 0)
    return;
  AF_FUZZ_CHECK(consumed == 16);
  auto bytes = encode(id);
  AF_FUZZ_CHECK(bytes.size() == 16);
  AF_FUZZ_CHECK(std::memcmp(bytes.data(), data, 16) == 0);
  AF_FUZZ_CHECK(static_cast<bool>(id) == (id.local != 0));
}

// -- seeds --------------------------------------------------------------------

remote_handle handle(caf::actor channel, uint32_t capacity, uint32_t batch,
                     uint8_t kind) {
  remote_handle h;
  h.channel = std::move(channel);
  h.capacity = capacity;
  h.batch = batch;
  h.read_ahead_ns = 1000;
  h.id = endpoint_id{0x1234'5678'9abc'def0, 7};
  h.kind = kind;
  return h;
}

std::vector<char> tagged(char tag, std::vector<char> bytes) {
  bytes.insert(bytes.begin(), tag);
  return bytes;
}

void write_seeds(seed_writer& out) {
  auto ch = env().remote_actor(17);
  auto add = [&](const char* name, remote_handle h) {
    out.add(name, tagged(0, encode(h)));
  };
  add("handle_receiver", handle(ch, 64, 16, 2));
  add("handle_sender", handle(ch, 64, 16, 1));
  add("handle_largest", handle(ch, actorflow::detail::max_channel_capacity,
                               actorflow::detail::max_channel_capacity, 1));
  add("handle_over_capacity", handle(ch, 0xffffffff, 1, 2));
  add("handle_batch_over_capacity", handle(ch, 8, 9, 1));
  add("handle_zero_capacity", handle(ch, 0, 0, 2));
  add("handle_kind_3", handle(ch, 64, 16, 3));
  add("handle_no_channel", handle(caf::actor{}, 64, 16, 2));
  auto receiver = handle(ch, 64, 16, 2);
  auto truncated = encode(receiver);
  truncated.resize(truncated.size() / 2);
  out.add("handle_truncated", tagged(0, truncated));
  // A channel on an invalid node id (process id 0), written field by field:
  // CAF would serialize such a handle as one of no node.
  caf::node_id::default_data::host_id_type host;
  host.fill(0xa5);
  auto invalid_node = to_bytes(nullptr, caf::actor_id{17},
                               caf::node_id::default_data::class_id,
                               uint32_t{0}, host);
  auto fields = handle(caf::actor{}, 64, 16, 2);
  out.add("handle_invalid_node",
          tagged(0,
                 cat(invalid_node,
                     to_bytes(nullptr, fields.capacity, fields.batch,
                              fields.read_ahead_ns, fields.id, fields.kind))));
  endpoint_id id{42, 7};
  out.add("endpoint_id", tagged(1, encode(id)));
  endpoint_id zero;
  out.add("endpoint_id_zero", tagged(1, encode(zero)));
  env().proxies->clear();
}

/// The first byte picks the decoder, the rest is its input.
void check_input(const char* bytes, size_t size) {
  if (size == 0)
    return;
  if (static_cast<uint8_t>(bytes[0]) % 2 == 0)
    check_handle(bytes + 1, size - 1);
  else
    check_endpoint_id(bytes + 1, size - 1);
}

} // namespace

AF_FUZZ_ENTRY_POINTS(write_seeds, env, "the decoder", node_input<check_input>)
