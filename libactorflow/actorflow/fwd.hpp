// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <cstdint>

namespace actorflow {

// -- enums --------------------------------------------------------------------

enum class error_code : uint8_t;

// -- classes ------------------------------------------------------------------

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
struct worker_options;

template <class T>
struct channel_pair;

} // namespace actorflow
