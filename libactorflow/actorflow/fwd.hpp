// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <cstdint>

/// Dataflow on CAF actors: credit-based channels, workers, the stream DSL
/// and distributed stages. `#include "actorflow/all.hpp"` brings it all.
namespace actorflow {

// -- enums --------------------------------------------------------------------

enum class error_code : uint8_t;
enum class stage_state : uint8_t;

// -- classes ------------------------------------------------------------------

class clock;
class latency_histogram;
class metrics_exporter;
class pipeline_monitor;
class stage_control;
class virtual_clock;
class worker;

template <class T>
class sender;

template <class T>
class receiver;

template <class T>
class send_result;

template <class T>
class task;

// -- structs ------------------------------------------------------------------

struct channel_metrics;
struct channel_options;
struct edge_stats;
struct pipeline_stats;
struct stage_stats;
struct stall_report;
struct stall_watchdog;
struct worker_options;

template <class T>
struct channel_pair;

} // namespace actorflow

namespace actorflow::detail {

class control_state;

} // namespace actorflow::detail
