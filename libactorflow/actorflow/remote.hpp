// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Distributed pipelines: stages registered by name in node processes, and
// `remote_parallel_then`, whose workers run on nodes (and locally) while the
// scatter and the gather stay in the driver.
//
//   remote/describe_node.hpp         describe_node: what a node hosts
//   remote/distribution.hpp          init_distribution, heartbeats and TLS
//   remote/join_point.hpp            join_point, join_stage: nodes join
//                                    running stages by name
//   remote/node.hpp                  stage_registry, serve_node
//   remote/placement_file.hpp        read_placements: placements from a file
//   remote/remote_options.hpp        placement, remote_options
//   remote/remote_parallel_then.hpp  remote_parallel_then(_unordered),
//                                    remote_then
//   remote/stage_control.hpp         stage_control: workers join a running
//                                    stage
//   remote/wire.hpp                  channel ends across processes, item types

#include "actorflow/remote/describe_node.hpp"
#include "actorflow/remote/distribution.hpp"
#include "actorflow/remote/join_point.hpp"
#include "actorflow/remote/node.hpp"
#include "actorflow/remote/placement_file.hpp"
#include "actorflow/remote/remote_options.hpp"
#include "actorflow/remote/remote_parallel_then.hpp"
#include "actorflow/remote/stage_control.hpp"
#include "actorflow/remote/wire.hpp"
