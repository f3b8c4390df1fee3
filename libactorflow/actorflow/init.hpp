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
/// - picks CAF's work-sharing scheduler (`scheduler.policy` = `sharing`: one
///   FIFO queue that every idle thread takes from), unless the configuration
///   already names a policy; `--scheduler.policy=stealing` still wins. CAF's
///   default work-stealing scheduler puts an actor that a message wakes at
///   the front of the sending thread's own queue, and a thread that found no
///   work for ~100 polls only tries to steal every fifth poll with 50 us
///   sleeps in between: the stages of a pipeline then mostly run one after
///   the other on one thread while the other cores sleep. With work sharing
///   the next stage runs on an idle core at once (W1, x+1, x*2, sum of
///   10^7 ints on two cores: stream DSL 118M -> 189M items/s, coroutine
///   workers 60M -> 93M; the parallel workloads W2-W4 unchanged).
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
