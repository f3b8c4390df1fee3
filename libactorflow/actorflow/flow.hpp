// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The stream DSL: `flow<T>` and its sources, stages and sinks. Each part has
// a header of its own under flow/; this one brings them all, in dependency
// order, together with the channels and workers they are built on.

#include "actorflow/channel.hpp"
#include "actorflow/error.hpp"
#include "actorflow/error_policy.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/stats.hpp"
#include "actorflow/task.hpp"
#include "actorflow/worker.hpp"

// Dependency order (each header includes what it needs; the order shows the
// layers): clang-format would sort it.
// clang-format off
#include "actorflow/flow/options.hpp"
#include "actorflow/flow/pipeline.hpp"
#include "actorflow/flow/flow_decl.hpp"
#include "actorflow/flow/plumbing.hpp"
#include "actorflow/flow/sources.hpp"
#include "actorflow/flow/operators.hpp"
#include "actorflow/flow/parallel_then.hpp"
#include "actorflow/flow/route_by_key.hpp"
#include "actorflow/flow/keyed.hpp"
#include "actorflow/flow/sinks.hpp"
#include "actorflow/flow/tee.hpp"
#include "actorflow/flow/compose.hpp"
#include "actorflow/flow/combine.hpp"
#include "actorflow/flow/actor_io.hpp"
// clang-format on
