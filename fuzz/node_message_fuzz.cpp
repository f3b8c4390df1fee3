// This file is part of actorflow. See README.md for the project's license.

// libFuzzer harness: any message a node decodes. CAF's BASP broker turns
// the payload of a peer's message into a `caf::message` with the node's
// type registry (the types of actorflow's channel protocol and the item
// types of the node's stages, CAF's builtin types) before the node's actors
// see it; this harness does the same with the input, then hands spawn
// requests to the node's check (`detail::check_spawn`).
//
// Checked for every input: decoding neither throws nor crashes nor
// allocates more than the input could fill; a spawn request gets the
// verdict spelled out in node_support.hpp; a message that loads
// re-serializes to bytes that load again, and reach a fixed point after
// CAF's normalization of actor handles (see node_support.hpp). Messages
// that hold an infinity are not re-serialized (see `infinity_finder`).
//
// Defects of CAF itself in decoding its own builtin types would end every
// run here; inputs that name such a type are skipped (see `caf_defects`)
// unless AF_FUZZ_CAF_DEFECTS=1 asks for them.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/message.hpp>

#include "actorflow/remote.hpp"

#include "fuzz_support.hpp"
#include "node_support.hpp"

using namespace actorflow_fuzz;
using namespace actorflow::detail;
using actorflow::remote_handle;

namespace {

/// Decodes a message from `data` as CAF's BASP broker does (`source(msg)`):
/// CAF drops the error of a message that fails to load (data_processor.hpp,
/// apply for types with `serialize`), which then stays empty; the result is
/// false only if a later CAF reports one.
bool decode(caf::message& msg, const char* data, size_t size) {
  caf::binary_deserializer source{env().ctx.get(), data, size};
  alloc_limit guard{64 * size + 65536};
  return !source(msg);
}

std::vector<char> encode(caf::message& msg) {
  return to_bytes(env().ctx.get(), msg);
}

/// Type names whose decoding in CAF 0.17.6 is broken, as a substring of
/// the input (nested messages list their types in the input too):
/// - "@charbuf" (std::vector<char>) and "@new_data_msg" (holds one): CAF
///   resizes the vector to the count the input announces before it reads
///   the bytes, 4 GiB from 5 bytes (caf/data_processor.hpp, apply_sequence
///   for byte sequences);
/// - "@config_value" (also inside "dictionary<@config_value>" and
///   "std::vector<@config_value>") and "settings": a variant whose type
///   tag is out of range throws std::runtime_error("invalid type found")
///   (caf/variant.hpp, inspect for variant_writer), which in a node ends
///   CAF's BASP broker;
/// - "std::vector<@message>": CAF drops the error of a message nested in
///   another value (caf/type_erased_tuple.hpp, `serialize` returns void),
///   so an element that fails to load counts as loaded and the vector takes
///   as many empty messages as its count announces (2^32 from 33 bytes:
///   std::bad_alloc after 1 GB under a 3 GB limit).
constexpr std::string_view caf_defects[] = {
  "@charbuf", "@new_data_msg",         "@config_value",
  "settings", "std::vector<@message>",
};

/// Walks a message as a serializer does, writing nothing, and finds the
/// floating-point values that CAF 0.17.6 cannot serialize: it loops for
/// good on an infinity (caf/detail/ieee_754.hpp, pack754 halves it until it
/// is below 2). Decoding makes one from any exponent of all ones.
class infinity_finder final : public caf::serializer {
public:
  using caf::serializer::serializer;

  bool found = false;

  caf::error begin_object(uint16_t&, std::string&) override {
    return caf::none;
  }

  caf::error end_object() override {
    return caf::none;
  }

  caf::error begin_sequence(size_t&) override {
    return caf::none;
  }

  caf::error end_sequence() override {
    return caf::none;
  }

  caf::error apply_raw(size_t, void*) override {
    return caf::none;
  }

protected:
  caf::error apply_impl(int8_t&) override {
    return caf::none;
  }

  caf::error apply_impl(uint8_t&) override {
    return caf::none;
  }

  caf::error apply_impl(int16_t&) override {
    return caf::none;
  }

  caf::error apply_impl(uint16_t&) override {
    return caf::none;
  }

  caf::error apply_impl(int32_t&) override {
    return caf::none;
  }

  caf::error apply_impl(uint32_t&) override {
    return caf::none;
  }

  caf::error apply_impl(int64_t&) override {
    return caf::none;
  }

  caf::error apply_impl(uint64_t&) override {
    return caf::none;
  }

  caf::error apply_impl(float& x) override {
    found = found || std::isinf(x);
    return caf::none;
  }

  caf::error apply_impl(double& x) override {
    found = found || std::isinf(x);
    return caf::none;
  }

  caf::error apply_impl(long double&) override {
    // Serialized as text: no loop.
    return caf::none;
  }

  caf::error apply_impl(std::string&) override {
    return caf::none;
  }

  caf::error apply_impl(std::u16string&) override {
    return caf::none;
  }

  caf::error apply_impl(std::u32string&) override {
    return caf::none;
  }
};

/// True if `msg` holds an infinity somewhere (see `infinity_finder`).
bool holds_infinity(caf::message& msg) {
  infinity_finder f{env().ctx.get()};
  AF_FUZZ_CHECK(!f(msg));
  return f.found;
}

/// True if the input names a type of `caf_defects` and those are skipped.
bool hits_caf_defect(const char* data, size_t size) {
  static const bool skip = [] {
    auto x = std::getenv("AF_FUZZ_CAF_DEFECTS");
    return x == nullptr || std::string_view{x} != "1";
  }();
  if (!skip)
    return false;
  std::string_view input{data, size};
  for (auto name : caf_defects)
    if (input.find(name) != std::string_view::npos)
      return true;
  return false;
}

void dispatch(const caf::message& msg) {
  if (msg.match_elements<node_spawn_atom, std::string, std::string, std::string,
                         std::string, std::string, remote_handle, remote_handle,
                         std::string>()) {
    spawn_request x{msg.get_as<std::string>(1),   msg.get_as<std::string>(2),
                    msg.get_as<std::string>(3),   msg.get_as<std::string>(4),
                    msg.get_as<std::string>(5),   msg.get_as<remote_handle>(6),
                    msg.get_as<remote_handle>(7), msg.get_as<std::string>(8)};
    check_spawn_request(*env().reg, x);
  }
}

void check(const char* data, size_t size) {
  if (hits_caf_defect(data, size))
    return;
  caf::message msg;
  if (!decode(msg, data, size))
    return;
  dispatch(msg);
  if (holds_infinity(msg))
    return;
  // Two rounds: an actor handle on an invalid node id decodes to a proxy,
  // re-serializes as one of no node, which decodes to no actor (CAF's
  // normalization, see node_support.hpp); after that the bytes are fixed.
  auto bytes = encode(msg);
  for (int round = 0; round < 2; ++round) {
    caf::message again;
    AF_FUZZ_CHECK(decode(again, bytes.data(), bytes.size()));
    auto next = encode(again);
    AF_FUZZ_CHECK(round == 0 || next == bytes);
    bytes = std::move(next);
  }
}

// -- seeds --------------------------------------------------------------------

remote_handle handle(caf::actor channel, uint8_t kind, uint64_t local) {
  remote_handle h;
  h.channel = std::move(channel);
  h.capacity = 64;
  h.batch = 16;
  h.id = {0xfeed, local};
  h.kind = kind;
  return h;
}

void write_seeds(seed_writer& out) {
  auto add = [&](const char* name, caf::message msg) {
    out.add(name, encode(msg));
  };
  auto ch = env().remote_actor(21);
  auto layout = [](const char* stage, bool in) {
    auto entry = env().reg->find(stage);
    return find_item_type(in ? entry->in : entry->out)->layout;
  };
  add("spawn_square",
      caf::make_message(node_spawn_atom::value, "square", "int32",
                        layout("square", true), "int64",
                        layout("square", false), handle(ch, 2, 1),
                        handle(ch, 1, 2), "square.worker1@127.0.0.1:4242"));
  add("spawn_normalize",
      caf::make_message(node_spawn_atom::value, "normalize", "string",
                        layout("normalize", true), "string",
                        layout("normalize", false), handle(ch, 2, 3),
                        handle(ch, 1, 4), "normalize.worker1@h:1"));
  add("spawn_too_few", caf::make_message(node_spawn_atom::value, "square"));
  add("node_info", caf::make_message(node_info_atom::value));
  add("node_rejected", caf::make_message(node_rejected_atom::value));
  add("node_stages", caf::make_message(node_stages_atom::value));
  endpoint_id id{0xfeed, 9};
  using job32 = job<int32_t>;
  using job64 = job<int64_t>;
  add("push",
      caf::make_message(push_atom::value, id, batch<job32>{{{0, 1}, {1, 2}}},
                        uint32_t{64}, uint32_t{0}));
  add("pull",
      caf::make_message(pull_atom::value, id, uint32_t{16}, uint32_t{48}));
  add("credit", caf::make_message(credit_atom::value, id, uint32_t{16}));
  add("items", caf::make_message(items_atom::value, id,
                                 batch<job64>{{{0, 1}, {1, 4}, {2, 9}}}));
  add("items_strings",
      caf::make_message(items_atom::value, id,
                        batch<job<std::string>>{{{0, "a"}, {1, "bc"}}}));
  add("eos", caf::make_message(eos_atom::value, id));
  add("close_tx", caf::make_message(close_tx_atom::value, id,
                                    batch<job64>{{{3, 16}}}, uint32_t{0}));
  add("rx_gone", caf::make_message(rx_gone_atom::value, id,
                                   batch<job32>{{{4, 4}}}, uint64_t{4}));
  add("bind_tx", caf::make_message(bind_tx_atom::value, id, ch));
  add("vector_int32", caf::make_message(std::vector<int32_t>{1, 2, 3}));
  add("empty", caf::message{});
  // Reproducers of CAF's defects (see caf_defects), skipped unless
  // AF_FUZZ_CAF_DEFECTS=1: a 4 GiB std::vector<char> and 2^32 messages
  // announced by 5 bytes, and a config_value whose type tag is out of
  // range.
  std::string charbuf = "@<>+@charbuf";
  out.add("caf_charbuf_4gib", cat(to_bytes(nullptr, uint16_t{0}, charbuf),
                                  {'\xff', '\xff', '\xff', '\xff', '\x0f'}));
  std::string messages = "@<>+std::vector<@message>";
  out.add("caf_message_vector", cat(to_bytes(nullptr, uint16_t{0}, messages),
                                    {'\xff', '\xff', '\xff', '\xff', '\x0f'}));
  // A double whose exponent is all ones: it decodes as an infinity, which
  // CAF cannot serialize (see infinity_finder).
  std::string one_double = "@<>+double";
  out.add("caf_double_infinity", cat(to_bytes(nullptr, uint16_t{0}, one_double),
                                     {'\x7f', '\xf0', 0, 0, 0, 0, 0, 0}));
  std::string config_value = "@<>+@config_value";
  out.add("caf_config_value_tag",
          cat(to_bytes(nullptr, uint16_t{0}, config_value), {'\xff'}));
  env().proxies->clear();
  // The type names a message may list: CAF's builtin ones
  // (caf/type_nr.hpp), those of the node's config, and the list's prefix.
  std::vector<std::string> words{"@<>+",
                                 "@actor",
                                 "@actorvec",
                                 "@addr",
                                 "@addrvec",
                                 "@atom",
                                 "@charbuf",
                                 "@config_value",
                                 "@down",
                                 "@downstream_msg",
                                 "@duration",
                                 "@error",
                                 "@exit",
                                 "@group",
                                 "@group_down",
                                 "@i16",
                                 "@i32",
                                 "@i64",
                                 "@i8",
                                 "@ldouble",
                                 "@message",
                                 "@message_id",
                                 "@node",
                                 "@open_stream_msg",
                                 "@str",
                                 "@strmap",
                                 "@strong_actor_ptr",
                                 "@strset",
                                 "@strvec",
                                 "@timeout",
                                 "@timespan",
                                 "@timestamp",
                                 "@u16",
                                 "@u16_str",
                                 "@u32",
                                 "@u32_str",
                                 "@u64",
                                 "@u8",
                                 "@unit",
                                 "@upstream_msg",
                                 "@weak_actor_ptr"};
  std::vector<std::string> custom;
  for (auto& kvp : env().cfg.value_factories_by_name)
    custom.push_back("+" + kvp.first);
  std::sort(custom.begin(), custom.end());
  words.insert(words.end(), custom.begin(), custom.end());
  out.dictionary(words);
}

} // namespace

AF_FUZZ_ENTRY_POINTS(write_seeds, env, "the node's message decoder",
                     node_input<check>)
