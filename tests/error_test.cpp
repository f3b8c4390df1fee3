// Tests of actorflow/error.hpp.

#include <string>

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/sec.hpp>

#include "actorflow/error.hpp"
#include "actorflow/worker.hpp"

using actorflow::error_code;

BOOST_AUTO_TEST_CASE(make_error_carries_category_code_and_context) {
  auto err = actorflow::make_error(error_code::invalid_capacity, "capacity 0");
  BOOST_TEST(static_cast<bool>(err));
  BOOST_TEST(err.category() == actorflow::error_category);
  BOOST_TEST(err.code() == static_cast<uint8_t>(error_code::invalid_capacity));
  BOOST_TEST(actorflow::what(err) == "capacity 0");
  BOOST_TEST(actorflow::to_string_any(err)
             == "actorflow::invalid_capacity: capacity 0");
}

BOOST_AUTO_TEST_CASE(make_error_without_context) {
  auto err = actorflow::make_error(error_code::worker_failed);
  BOOST_TEST(actorflow::what(err).empty());
  BOOST_TEST(actorflow::to_string_any(err) == "actorflow::worker_failed");
}

BOOST_AUTO_TEST_CASE(to_string_names_every_code) {
  BOOST_TEST(actorflow::to_string(error_code::none) == "none");
  BOOST_TEST(actorflow::to_string(error_code::invalid_capacity)
             == "invalid_capacity");
  BOOST_TEST(actorflow::to_string(error_code::invalid_argument)
             == "invalid_argument");
  BOOST_TEST(actorflow::to_string(error_code::worker_failed)
             == "worker_failed");
  BOOST_TEST(actorflow::to_string(error_code::invalid_handle)
             == "invalid_handle");
  BOOST_TEST(actorflow::to_string(error_code::wrong_context)
             == "wrong_context");
  BOOST_TEST(actorflow::to_string(error_code::receivers_gone)
             == "receivers_gone");
  BOOST_TEST(actorflow::to_string(error_code::peer_lost) == "peer_lost");
  BOOST_TEST(actorflow::to_string(error_code::cancelled) == "cancelled");
  BOOST_TEST(actorflow::to_string(error_code::unknown_stage)
             == "unknown_stage");
  BOOST_TEST(actorflow::to_string(error_code::type_mismatch)
             == "type_mismatch");
  BOOST_TEST(actorflow::to_string(error_code::connect_failed)
             == "connect_failed");
  BOOST_TEST(actorflow::to_string(error_code::timeout) == "timeout");
  BOOST_TEST(actorflow::to_string(error_code::workers_lost) == "workers_lost");
  BOOST_TEST(actorflow::to_string(error_code::listen_failed)
             == "listen_failed");
  BOOST_TEST(actorflow::to_string(error_code::stalled) == "stalled");
  BOOST_TEST(actorflow::to_string(error_code::not_running) == "not_running");
}

BOOST_AUTO_TEST_CASE(error_exception_carries_its_error) {
  auto err = actorflow::make_error(error_code::timeout, "no answer");
  actorflow::error_exception ex{err};
  BOOST_TEST((ex.error() == err));
  BOOST_TEST(std::string{ex.what()}.find("no answer") != std::string::npos);
  // A worker that throws it ends with that code, its name added.
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  caf::actor_system sys{cfg};
  actorflow::worker_options wo;
  wo.name = "thrower";
  auto w = actorflow::spawn_worker(sys, wo, [err]() -> actorflow::task<> {
    throw actorflow::error_exception{err};
    co_return;
  });
  auto result = w.join();
  BOOST_TEST(result.code() == static_cast<uint8_t>(error_code::timeout));
  BOOST_TEST(actorflow::what(result).find("thrower") != std::string::npos);
  BOOST_TEST(actorflow::what(result).find("no answer") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(to_string_any_handles_other_errors) {
  BOOST_TEST(actorflow::to_string_any(caf::error{}) == "none");
  caf::error other = caf::sec::request_timeout;
  BOOST_TEST(actorflow::to_string_any(other).find("request_timeout")
             != std::string::npos);
  BOOST_TEST(actorflow::what(other).empty());
}

BOOST_AUTO_TEST_CASE(init_registers_the_renderer) {
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  caf::actor_system sys{cfg};
  auto err = actorflow::make_error(error_code::invalid_capacity, "capacity 0");
  auto rendered = sys.render(err);
  BOOST_TEST_MESSAGE("sys.render: " << rendered);
  BOOST_TEST(rendered.find("invalid_capacity") != std::string::npos);
  BOOST_TEST(rendered.find("capacity 0") != std::string::npos);
}

//! Contract: what() of an empty error (a run that succeeded, a worker that
//! ended normally) is an empty string, not a crash.
BOOST_AUTO_TEST_CASE(what_of_no_error_is_empty) {
  BOOST_TEST(actorflow::what(caf::error{}).empty());
  BOOST_TEST(actorflow::what(caf::make_error(caf::sec::runtime_error)).empty());
}
