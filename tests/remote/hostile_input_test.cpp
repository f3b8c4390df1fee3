// A node facing forged bytes: batch messages whose count wraps around,
// announces more items than the message holds, whose blob is truncated, or
// whose header names another item size or byte order. Each is a
// deserialization error for the node (CAF drops the message): the node
// neither aborts nor allocates what the count announces, and serves the
// next pipeline as before.

#include <cstdint>
#include <cstring>
#include <string>
#include <typeindex>
#include <vector>

#include <signal.h>

#include "support/remote_support.hpp"

using namespace actorflow_test;

namespace {

/// Writes the wire format of `actorflow::detail::batch<T>` with any header,
/// count and payload: registered under the name of a real batch type, it
/// reaches the node as one.
struct forged_batch {
  uint32_t header = 0;
  uint64_t n = 0;
  std::vector<char> bytes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, forged_batch& x) {
  if constexpr (std::is_base_of_v<caf::serializer, Inspector>) {
    if (auto err = f(caf::meta::type_name("forged_batch"), x.header, x.n))
      return err;
    if (x.bytes.empty())
      return caf::error{};
    return f.apply_raw(x.bytes.size(), x.bytes.data());
  } else {
    return f(caf::meta::type_name("forged_batch"), x.header, x.n);
  }
}

/// The same, under the name of the batches of jobs that distributed stages
/// exchange.
struct forged_job_batch : forged_batch {};

/// A forged batch of `T` with the count `n` and `payload` bytes after it.
template <class T, class Forged = forged_batch>
Forged forge(uint64_t n, size_t payload,
             uint32_t header = actorflow::detail::blob_header<T>()) {
  Forged result;
  result.header = header;
  result.n = n;
  result.bytes.assign(payload, 'x');
  return result;
}

struct hostile_fixture {
  watchdog dog{std::chrono::seconds{30}};
  std::shared_ptr<actorflow::stage_registry> reg = driver_stages();
  caf::actor_system_config cfg;
  caf::actor_system sys{prepare_attacker(cfg, *reg)};

  static caf::actor_system_config& prepare_attacker(
    caf::actor_system_config& cfg, const actorflow::stage_registry& reg) {
    prepare_driver(cfg, reg);
    // Serialized under the names of the real batch types: the node decodes
    // them as batches (this process keeps decoding real batches as such).
    forge_as<forged_batch>(cfg, "actorflow::batch<int32>");
    forge_as<forged_job_batch>(cfg, "actorflow::batch<actorflow::job<int32>>");
    return cfg;
  }

  template <class Forged>
  static void forge_as(caf::actor_system_config& cfg, const char* name) {
    std::type_index rtti{typeid(Forged)};
    cfg.type_names_by_rtti.emplace(rtti, name);
    cfg.value_factories_by_rtti.emplace(rtti,
                                        &caf::make_type_erased_value<Forged>);
  }

  /// A real pipeline through `node`, checked item by item.
  void run_square(const test_node& node) {
    auto result = actorflow::remote_parallel_then<int64_t>(
                    actorflow::iota(int32_t{0}, int32_t{2000}),
                    {{node.address, 2}}, "square", driver_options(reg))
                    .collect()
                    .run(sys);
    BOOST_REQUIRE_MESSAGE(result, error_text(result));
    BOOST_TEST((*result == squares(2000)));
  }

  /// How many batches the node refused so far (a request after everything
  /// sent before it on the same connection, so those were decoded by then).
  uint64_t rejected_by(const caf::actor& node) {
    caf::scoped_actor self{sys};
    uint64_t result = 0;
    self
      ->request(node, std::chrono::seconds{5},
                actorflow::detail::node_rejected_atom::value)
      .receive([&](uint64_t x) { result = x; },
               [&](caf::error& err) {
                 BOOST_ERROR("the node did not answer: " << sys.render(err));
               });
    return result;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(hostile_input, hostile_fixture)

//! Contract: forged batch messages neither kill a node nor make it allocate
//! what they announce; it serves the next pipeline with its memory flat.
BOOST_AUTO_TEST_CASE(forged_batches_are_dropped_and_the_node_serves_on) {
  test_node node;
  run_square(node);
  auto before = rss_of(node.pid());
  BOOST_REQUIRE(before > 0);
  auto hdl = connect_to(sys, node);
  auto rejected_before = rejected_by(hdl);
  using int32 = int32_t;
  constexpr uint64_t wraps = (uint64_t{1} << 62) + 1; // * 4 wraps to 4
  std::vector<forged_batch> attacks{
    forge<int32>(wraps, 4),              // the count wraps around
    forge<int32>(uint64_t{1} << 28, 13), // 1 GiB announced, 13 bytes sent
    forge<int32>(uint64_t{1} << 29, 0),  // 2 GiB, the old guard's limit
    forge<int32>(100, 40),               // a truncated blob
    forge<int32>(4, 16, actorflow::detail::blob_header<int64_t>()),    // sizeof
    forge<int32>(4, 16, actorflow::detail::blob_header<int32>() ^ 3u), // order
    forge<int32>(~uint64_t{0}, 0), // the largest count
  };
  using job = actorflow::detail::job<int32>;
  constexpr uint64_t job_wraps = (uint64_t{1} << 60) + 1; // * 16 wraps
  std::vector<forged_job_batch> job_attacks{
    forge<job, forged_job_batch>(job_wraps, 16),
    forge<job, forged_job_batch>(uint64_t{1} << 26, 13),
    forge<job, forged_job_batch>(3, 16,
                                 actorflow::detail::blob_header<int32>()),
  };
  for (int round = 0; round < 3; ++round) {
    for (auto& x : attacks)
      caf::anon_send(hdl, x);
    for (auto& x : job_attacks)
      caf::anon_send(hdl, x);
  }
  // Every forged message was refused by actorflow's decoder.
  BOOST_TEST(rejected_by(hdl) - rejected_before
             == 3 * (attacks.size() + job_attacks.size()));
  BOOST_TEST(::kill(node.pid(), 0) == 0, "the node died");
  run_square(node);
  auto after = rss_of(node.pid());
  BOOST_TEST_MESSAGE("node RSS before " << before / 1024 << " KiB, after "
                                        << after / 1024 << " KiB");
  BOOST_TEST(after - before < 64ll * 1024 * 1024);
}

BOOST_AUTO_TEST_SUITE_END()
