// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Symbols are hidden by default (see CMakeLists.txt); ACTORFLOW_EXPORT marks
// the public ABI of the shared library.
#if defined(ACTORFLOW_STATIC)
#  define ACTORFLOW_EXPORT
#else
#  define ACTORFLOW_EXPORT __attribute__((visibility("default")))
#endif
