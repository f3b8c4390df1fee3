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
///   number of cores, unless the configuration already has a value: CAF
///   0.17's default of max(cores, 4) lets idle scheduler threads preempt
///   busy stage actors on small machines. A command line option
///   (`--scheduler.max-threads=N`) or a config file still wins.
/// - picks CAF's work-sharing scheduler (`scheduler.policy` = `sharing`: one
///   FIFO queue that every idle thread takes from), unless the configuration
///   already names a policy; `--scheduler.policy=stealing` still wins. Under
///   CAF's work stealing, an actor that a message wakes runs on the sending
///   thread, so the stages of a pipeline mostly take turns on one core while
///   the others sleep. docs/guide/tuning.md explains both choices, and
///   docs/benchmarks/history.md has the figures.
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
