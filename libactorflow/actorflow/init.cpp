// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/init.hpp"

#include <algorithm>
#include <cstddef>
#include <thread>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/config_value.hpp>

#include "actorflow/error.hpp"

namespace actorflow {

void init(caf::actor_system_config& cfg) {
  detail::add_error_category(cfg);
  if (!caf::get_if<size_t>(&cfg, "scheduler.max-threads")) {
    auto cores = std::max(1u, std::thread::hardware_concurrency());
    cfg.set("scheduler.max-threads", size_t{cores});
  }
  if (!caf::get_if<caf::atom_value>(&cfg, "scheduler.policy"))
    cfg.set("scheduler.policy", caf::atom("sharing"));
}

} // namespace actorflow
