// This file is part of actorflow. See README.md for the project's license.

// libFuzzer harness: a node's spawn request, which also carries the type
// check (the item types' names and layouts the driver uses). The input is
// the request's elements after `node_spawn_atom` in CAF's binary format, as
// the node's actor receives them; the node's own check
// (`detail::check_spawn`) then judges the request against the stages of
// examples/plugins/example_stages.cpp. No worker is spawned.
//
// Checked for every input: decoding neither throws nor crashes nor
// allocates more than the input could fill; a request that loads
// re-serializes to bytes that load to the same request (see same_fields in
// node_support.hpp for CAF's part); the check
// passes exactly the requests for a known stage with matching types and
// well-formed ends, and refuses the rest with one of actorflow's errors.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/binary_deserializer.hpp>

#include "actorflow/remote.hpp"

#include "fuzz_support.hpp"
#include "node_support.hpp"

using namespace actorflow_fuzz;

namespace {

template <class Inspector>
auto fields(Inspector& f, spawn_request& x) {
  return f(x.stage, x.in_name, x.in_layout, x.out_name, x.out_layout, x.work,
           x.results, x.worker_name);
}

std::vector<char> encode(spawn_request& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{env().ctx.get(), buf};
  AF_FUZZ_CHECK(!fields(sink, x));
  return buf;
}

/// Decodes a request from `data`; false if it does not load whole.
bool decode(spawn_request& x, const char* data, size_t size) {
  caf::binary_deserializer source{env().ctx.get(), data, size};
  alloc_limit guard{size + 4096};
  return !fields(source, x);
}

bool same(const spawn_request& x, const spawn_request& y) {
  return x.stage == y.stage && x.in_name == y.in_name
         && x.in_layout == y.in_layout && x.out_name == y.out_name
         && x.out_layout == y.out_layout && same_fields(x.work, y.work)
         && same_fields(x.results, y.results) && x.worker_name == y.worker_name;
}

void check(const char* data, size_t size) {
  spawn_request x;
  if (!decode(x, data, size))
    return;
  auto bytes = encode(x);
  spawn_request again;
  AF_FUZZ_CHECK(decode(again, bytes.data(), bytes.size()));
  AF_FUZZ_CHECK(same(x, again));
  check_spawn_request(*env().reg, x);
}

// -- seeds --------------------------------------------------------------------

/// A request that the node accepts: stage `square` or `normalize`.
spawn_request valid_request(bool square) {
  spawn_request x;
  auto in = square ? "int32" : "string";
  auto out = square ? "int64" : "string";
  x.stage = square ? "square" : "normalize";
  x.in_name = in;
  x.in_layout
    = actorflow::detail::find_item_type(env().reg->find(x.stage)->in)->layout;
  x.out_name = out;
  x.out_layout
    = actorflow::detail::find_item_type(env().reg->find(x.stage)->out)->layout;
  x.work.channel = env().remote_actor(11);
  x.work.capacity = 64;
  x.work.batch = 16;
  x.work.id = {0xfeed, 1};
  x.work.kind = 2;
  x.results = x.work;
  x.results.channel = env().remote_actor(12);
  x.results.id = {0xfeed, 2};
  x.results.kind = 1;
  x.worker_name = std::string{x.stage} + ".worker1@127.0.0.1:4242";
  return x;
}

void write_seeds(seed_writer& out) {
  auto square = valid_request(true);
  out.add("square", encode(square));
  auto normalize = valid_request(false);
  out.add("normalize", encode(normalize));
  auto x = square;
  x.stage = "cube";
  out.add("unknown_stage", encode(x));
  x = square;
  x.in_layout = "s8a8t1";
  out.add("in_layout_differs", encode(x));
  x = square;
  x.out_name = "int32";
  out.add("out_name_differs", encode(x));
  x = square;
  std::swap(x.work.kind, x.results.kind);
  out.add("ends_swapped", encode(x));
  x = square;
  x.results.batch = x.results.capacity + 1;
  out.add("batch_over_capacity", encode(x));
  x = square;
  x.work.channel = caf::actor{};
  out.add("no_work_channel", encode(x));
  auto bytes = encode(square);
  bytes.resize(bytes.size() - 5);
  out.add("truncated", bytes);
  env().proxies->clear();
}

} // namespace

AF_FUZZ_ENTRY_POINTS(write_seeds, env, "the node's decoder or check",
                     node_input<check>)
