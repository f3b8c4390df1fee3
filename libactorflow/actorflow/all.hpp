// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include "actorflow/ask.hpp"
#include "actorflow/channel.hpp"
#include "actorflow/channel_metrics.hpp"
#include "actorflow/clock.hpp"
#include "actorflow/error.hpp"
#include "actorflow/error_policy.hpp"
#include "actorflow/flow.hpp"
#include "actorflow/fwd.hpp"
#include "actorflow/init.hpp"
#include "actorflow/latency_histogram.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/remote.hpp"
#include "actorflow/remote/wire.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/stall_watchdog.hpp"
#include "actorflow/stats.hpp"
#include "actorflow/task.hpp"
#include "actorflow/version.hpp"
#include "actorflow/worker.hpp"
