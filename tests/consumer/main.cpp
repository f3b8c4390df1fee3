// A downstream program built against an installed actorflow (see run.cmake).

#include <chrono>
#include <iostream>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actorflow/error.hpp"
#include "actorflow/version.hpp"

namespace {

caf::behavior doubler() {
  return {[](int x) {
    return 2 * x;
  }};
}

} // namespace

int main() {
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  caf::actor_system sys{cfg};
  int failures = 0;
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) {
      std::cerr << "FAILED: " << what << '\n';
      ++failures;
    }
  };
  auto err = actorflow::make_error(actorflow::error_code::invalid_capacity,
                                   "capacity 0");
  check(actorflow::to_string_any(err)
          == "actorflow::invalid_capacity: capacity 0",
        "to_string_any: " + actorflow::to_string_any(err));
  check(sys.render(err).find("invalid_capacity") != std::string::npos,
        "render: " + sys.render(err));
#ifdef CONSUMER_PACKAGE_VERSION
  check(std::string{actorflow::version} == CONSUMER_PACKAGE_VERSION,
        std::string{"version.hpp says "} + actorflow::version + ", the package "
          + CONSUMER_PACKAGE_VERSION);
#endif
  check(std::string{actorflow::version}.find('.') != std::string::npos,
        std::string{"version "} + actorflow::version);
  auto worker = sys.spawn(doubler);
  caf::scoped_actor self{sys};
  self->request(worker, std::chrono::seconds(10), 21)
    .receive([&](int y) { check(y == 42, "reply " + std::to_string(y)); },
             [&](caf::error& e) { check(false, "request: " + sys.render(e)); });
  if (failures == 0)
    std::cout << "consumer ok\n";
  return failures == 0 ? 0 : 1;
}
