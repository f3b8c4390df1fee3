// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <caf/fwd.hpp>

#include "actorflow/detail/export.hpp"

namespace actorflow {

/// Prepares a CAF configuration for actorflow. Call it before `parse` and
/// before constructing the `caf::actor_system`:
///
/// - registers the renderer of actorflow's error category, so that
///   `sys.render(err)` spells out actorflow errors;
/// - sets the scheduler's thread count (`scheduler.max-threads`) to the
///   number of cores, unless the configuration already has a value. CAF 0.17
///   defaults to max(cores, 4): on a machine with fewer than four cores the
///   extra scheduler threads preempt busy stage actors and burn CPU polling
///   for work (bench_parallel: 0.67 -> 0.88 of the ideal speed-up with two
///   workers on two cores). A command line option
///   (`--scheduler.max-threads=N`) or a config file still wins.
///
/// ~~~
/// caf::actor_system_config cfg;
/// actorflow::init(cfg);
/// if (auto err = cfg.parse(argc, argv))
///   return EXIT_FAILURE;
/// caf::actor_system sys{cfg};
/// ~~~
ACTORFLOW_EXPORT void init(caf::actor_system_config& cfg);

} // namespace actorflow
