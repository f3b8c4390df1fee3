// remote_parallel_then (and its step forms for compose, remote_then) with
// workers on node processes (tools/actorflow_node with the test stages
// plugin) on 127.0.0.1: results equal a local run, and every bad input fails
// with a clear error.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/remote_support.hpp"

using namespace actorflow_test;
using actorflow::error_code;

BOOST_FIXTURE_TEST_SUITE(remote, driver_fixture)

BOOST_AUTO_TEST_CASE(two_nodes_and_a_local_worker_equal_a_local_run) {
  test_node a;
  test_node b;
  constexpr int32_t n = 20'000;
  auto result = actorflow::remote_parallel_then<int64_t>(
                  actorflow::iota(int32_t{0}, n),
                  {{a.address, 2}, {b.address, 2}, {"local", 1}}, "square",
                  opts())
                  .collect()
                  .run(sys);
  BOOST_REQUIRE_MESSAGE(result, error_text(result));
  BOOST_TEST((*result == squares(n)));
}

BOOST_AUTO_TEST_CASE(unordered_variant_delivers_every_item_once) {
  test_node a;
  constexpr int32_t n = 10'000;
  auto result = actorflow::remote_parallel_then_unordered<int64_t>(
                  actorflow::iota(int32_t{0}, n),
                  {{a.address, 2}, {"local", 1}}, "square", opts())
                  .collect()
                  .run(sys);
  BOOST_REQUIRE_MESSAGE(result, error_text(result));
  std::sort(result->begin(), result->end());
  BOOST_TEST((*result == squares(n)));
}

//! Contract: the step forms of the remote stages chain with dots through
//! compose (local stages before and after them) and equal the local run:
//! remote_parallel_then and remote_parallel_then_unordered with a placement,
//! and remote_then, one stage actor on one node; an unknown stage is still
//! unknown_stage through a step.
BOOST_AUTO_TEST_CASE(remote_steps_chain_with_compose) {
  test_node a;
  test_node b;
  constexpr int32_t n = 5'000;
  auto plus_one = [](int64_t x) {
    return x + 1;
  };
  std::vector<int64_t> want;
  for (auto x : squares(n))
    want.push_back(x + 1);
  auto ordered
    = actorflow::iota(int32_t{0}, n)
        .then([](int32_t x) { return x; })
        .compose(actorflow::remote_parallel_then<int64_t>(
          {{a.address, 2}, {b.address, 1}, {"local", 1}}, "square", opts()))
        .then(plus_one)
        .collect()
        .run(sys);
  BOOST_REQUIRE_MESSAGE(ordered, error_text(ordered));
  BOOST_TEST((*ordered == want));
  auto unordered
    = actorflow::iota(int32_t{0}, n)
        .compose(actorflow::remote_parallel_then_unordered<int64_t>(
          {{a.address, 2}}, "square", opts()))
        .then(plus_one)
        .collect()
        .run(sys);
  BOOST_REQUIRE_MESSAGE(unordered, error_text(unordered));
  std::sort(unordered->begin(), unordered->end());
  BOOST_TEST((*unordered == want));
  auto one
    = actorflow::iota(int32_t{0}, n)
        .compose(actorflow::remote_then<int64_t>(b.address, "square", opts()))
        .then(plus_one)
        .collect()
        .run(sys);
  BOOST_REQUIRE_MESSAGE(one, error_text(one));
  BOOST_TEST((*one == want));
  auto unknown = actorflow::iota(int32_t{0}, n)
                   .compose(actorflow::remote_then<int64_t>(
                     a.address, "no_such_stage", opts()))
                   .collect()
                   .run(sys);
  BOOST_REQUIRE(!unknown);
  BOOST_TEST(code_of(unknown.error()) == error_code::unknown_stage);
}

//! Contract: a coroutine stage function on a node (task<Out>(In)) asks an
//! actor that lives on that node (spawned by the registry's on_start hook
//! when the node starts) and runs its registered concurrency of calls at
//! once per worker: the actor answers only once 4 requests wait, so one
//! worker passes only with 4 calls in flight. The output equals the local
//! run, in order.
BOOST_AUTO_TEST_CASE(coroutine_stages_run_concurrent_calls_on_a_node) {
  test_node a;
  constexpr int32_t n = 400; // a multiple of the gate's width
  auto remote = actorflow::iota(int32_t{0}, n)
                  .compose(actorflow::remote_then<int64_t>(
                    a.address, "gated_square", opts()))
                  .collect()
                  .run(sys);
  BOOST_REQUIRE_MESSAGE(remote, error_text(remote));
  BOOST_TEST((*remote == squares(n)));
}

//! Contract: a local worker of a coroutine stage from a registry works as
//! one on a node once the driver started the registry; its stop hooks end
//! the actors its start hooks spawned (the fixture's actor system could not
//! shut down otherwise).
BOOST_AUTO_TEST_CASE(coroutine_stages_run_in_local_workers) {
  constexpr int32_t n = 400;
  auto started = reg->start(sys); // the driver's gate, stopped at the end
  auto local = actorflow::iota(int32_t{0}, n)
                 .compose(actorflow::remote_then<int64_t>(
                   "local", "gated_square", opts()))
                 .collect()
                 .run(sys);
  BOOST_REQUIRE_MESSAGE(local, error_text(local));
  BOOST_TEST((*local == squares(n)));
}

//! Contract: register_stage refuses a concurrency it cannot honour, with
//! std::invalid_argument naming the stage: 0, or above 1 for a plain
//! function (which runs one call at a time).
BOOST_AUTO_TEST_CASE(register_stage_refuses_a_bad_concurrency) {
  actorflow::stage_registry r;
  auto plain = [](int32_t x) {
    return int64_t{x};
  };
  auto coro = [](int32_t x) -> actorflow::task<int64_t> {
    co_return x;
  };
  BOOST_CHECK_THROW((r.register_stage<int32_t, int64_t>("p", plain, 2)),
                    std::invalid_argument);
  BOOST_CHECK_THROW((r.register_stage<int32_t, int64_t>("c", coro, 0)),
                    std::invalid_argument);
  BOOST_TEST(r.names().empty());
  r.register_stage<int32_t, int64_t>("p", plain);
  r.register_stage<int32_t, int64_t>("c", coro, 8);
  BOOST_TEST((r.names() == std::vector<std::string>{"c", "p"}));
}

BOOST_AUTO_TEST_CASE(one_node_serves_pipelines_one_after_another) {
  test_node a;
  for (int round = 0; round < 3; ++round) {
    auto result = actorflow::remote_parallel_then<int64_t>(
                    actorflow::iota(int32_t{0}, int32_t{1000}),
                    {{a.address, 2}}, "square", opts())
                    .collect()
                    .run(sys);
    BOOST_REQUIRE_MESSAGE(result, error_text(result));
    BOOST_TEST((*result == squares(1000)));
  }
}

//! Contract: a pipeline that ends normally loses no worker: its node stops
//! the finished workers, and that is no loss (on_worker_lost stays silent).
BOOST_AUTO_TEST_CASE(a_normal_end_loses_no_worker) {
  test_node a;
  // Which worker was lost and why, for the report (the callback runs in the
  // supervisors' actors).
  struct losses {
    std::mutex mtx;
    std::string text;
  };
  auto lost = std::make_shared<losses>();
  auto o = opts();
  o.on_worker_lost = [lost](const std::string& where, const caf::error& why) {
    std::lock_guard guard{lost->mtx};
    lost->text += " [" + where + ": " + actorflow::to_string_any(why) + "]";
  };
  for (int round = 0; round < 40; ++round) {
    auto result = actorflow::remote_parallel_then<int64_t>(
                    actorflow::iota(int32_t{0}, int32_t{500}), {{a.address, 2}},
                    "square", o)
                    .collect()
                    .run(sys);
    BOOST_REQUIRE_MESSAGE(result, error_text(result));
    BOOST_TEST((*result == squares(500)));
  }
  std::lock_guard guard{lost->mtx};
  BOOST_TEST(lost->text.empty(), "lost workers:" << lost->text);
}

BOOST_AUTO_TEST_CASE(unknown_stage_is_an_error) {
  test_node a;
  auto result = actorflow::remote_parallel_then<int64_t>(
                  actorflow::iota(int32_t{0}, int32_t{100}), {{a.address, 1}},
                  "no_such_stage", opts())
                  .collect()
                  .run(sys);
  BOOST_REQUIRE(!result);
  BOOST_TEST(code_of(result.error()) == error_code::unknown_stage);
  BOOST_TEST(contains(actorflow::what(result.error()), "no_such_stage"));
  BOOST_TEST(contains(actorflow::what(result.error()), "square"));
}

BOOST_AUTO_TEST_CASE(other_item_type_names_are_a_type_mismatch) {
  test_node a;
  // The node's "square" returns int64; this driver expects int32.
  auto result = actorflow::remote_parallel_then<int32_t>(
                  actorflow::iota(int32_t{0}, int32_t{100}), {{a.address, 1}},
                  "square", opts())
                  .collect()
                  .run(sys);
  BOOST_REQUIRE(!result);
  BOOST_TEST(code_of(result.error()) == error_code::type_mismatch);
  BOOST_TEST(contains(actorflow::what(result.error()), "int64"));
}

BOOST_AUTO_TEST_CASE(local_workers_need_a_matching_local_stage) {
  auto result = actorflow::remote_parallel_then<int64_t>(
                  actorflow::iota(int32_t{0}, int32_t{10}), {{"local", 1}},
                  "no_such_stage", opts())
                  .collect()
                  .run(sys);
  BOOST_REQUIRE(!result);
  BOOST_TEST(code_of(result.error()) == error_code::unknown_stage);
  auto no_registry = actorflow::remote_parallel_then<int64_t>(
                       actorflow::iota(int32_t{0}, int32_t{10}), {{"local", 1}},
                       "square")
                       .collect()
                       .run(sys);
  BOOST_REQUIRE(!no_registry);
  BOOST_TEST(code_of(no_registry.error()) == error_code::unknown_stage);
}

BOOST_AUTO_TEST_CASE(bad_placements_are_invalid_arguments) {
  for (auto where :
       {actorflow::placement{}, actorflow::placement{{"127.0.0.1", 1}},
        actorflow::placement{{"127.0.0.1:99999", 1}},
        actorflow::placement{{"127.0.0.1:4242", 0}}}) {
    auto result = actorflow::remote_parallel_then<int64_t>(
                    actorflow::iota(int32_t{0}, int32_t{10}), where, "square",
                    opts())
                    .collect()
                    .run(sys);
    BOOST_REQUIRE(!result);
    BOOST_TEST(code_of(result.error()) == error_code::invalid_argument);
  }
}

BOOST_AUTO_TEST_CASE(refused_connection_is_an_error) {
  refused_port port;
  auto where = port.address();
  auto t0 = std::chrono::steady_clock::now();
  auto result = actorflow::remote_parallel_then<int64_t>(
                  actorflow::iota(int32_t{0}, int32_t{100}), {{where, 1}},
                  "square", opts())
                  .collect()
                  .run(sys);
  BOOST_REQUIRE(!result);
  BOOST_TEST(code_of(result.error()) == error_code::connect_failed);
  BOOST_TEST(contains(actorflow::what(result.error()), where));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds{3}));
}

// The failing supervisor's error is the pipeline's, never the scatter's
// `workers_lost` that follows from it (they raced before; the scatter may
// be blocked on its work channel or see the acks end first).
BOOST_AUTO_TEST_CASE(the_cause_of_a_lost_stage_is_reported_not_the_loss) {
  refused_port port_a;
  refused_port port_b;
  auto a = port_a.address();
  auto b = port_b.address();
  for (int run = 0; run < 20; ++run) {
    auto result = actorflow::remote_parallel_then<int64_t>(
                    actorflow::iota(int32_t{0}, int32_t{20000}),
                    {{a, 1}, {b, 1}}, "square", opts())
                    .collect()
                    .run(sys);
    BOOST_REQUIRE(!result);
    BOOST_TEST(code_of(result.error()) == error_code::connect_failed,
               "run " << run << ": "
                      << actorflow::to_string_any(result.error()));
  }
}

BOOST_AUTO_TEST_CASE(silent_peer_is_a_connect_timeout) {
  silent_listener silent;
  auto where = "127.0.0.1:" + std::to_string(silent.port);
  auto o = opts();
  o.connect_timeout = std::chrono::milliseconds{300};
  auto t0 = std::chrono::steady_clock::now();
  auto result = actorflow::remote_parallel_then<int64_t>(
                  actorflow::iota(int32_t{0}, int32_t{100}), {{where, 1}},
                  "square", o)
                  .collect()
                  .run(sys);
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_REQUIRE(!result);
  BOOST_TEST(code_of(result.error()) == error_code::timeout,
             actorflow::to_string_any(result.error()));
  // The whole connect timeout, not what its last attempt had left.
  BOOST_TEST(contains(actorflow::what(result.error()), "300 ms"),
             actorflow::what(result.error()));
  BOOST_TEST((took >= std::chrono::milliseconds{300}));
  BOOST_TEST((took < std::chrono::seconds{3}));
}

BOOST_AUTO_TEST_CASE(a_stage_that_throws_on_a_node_fails_the_pipeline) {
  test_node a;
  auto result = actorflow::remote_parallel_then<int64_t>(
                  actorflow::iota(int32_t{0}, int32_t{100}), {{a.address, 2}},
                  "throws_on_7", opts())
                  .collect()
                  .run(sys);
  BOOST_REQUIRE(!result);
  BOOST_TEST(code_of(result.error()) == error_code::worker_failed);
  BOOST_TEST(contains(actorflow::what(result.error()), "seven"));
  BOOST_TEST(contains(actorflow::what(result.error()), "item 7"));
}

BOOST_AUTO_TEST_SUITE_END()

// A driver whose item type has the node's name but another layout (another
// build of the type): a type mismatch, found before any item moves.
BOOST_AUTO_TEST_CASE(same_name_other_layout_is_a_type_mismatch) {
  watchdog dog{std::chrono::seconds{20}};
  test_node a;
  auto reg = std::make_shared<actorflow::stage_registry>();
  reg->add_item_type<int32_t>("int32");
  reg->add_item_type<int64_t>("int64");
  reg->add_item_type<test_stages::blob_v2>("test::blob");
  caf::actor_system_config cfg;
  caf::actor_system sys{prepare_driver(cfg, *reg)};
  std::vector<test_stages::blob_v2> xs(10);
  auto result = actorflow::remote_parallel_then<int64_t>(
                  actorflow::from(xs), {{a.address, 1}}, "blob_value")
                  .collect()
                  .run(sys);
  BOOST_REQUIRE(!result);
  BOOST_TEST(code_of(result.error()) == error_code::type_mismatch);
  BOOST_TEST(contains(actorflow::what(result.error()), "layout"));
}
