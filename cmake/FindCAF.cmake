# FindCAF.cmake -- locate the C++ Actor Framework (CAF) 0.17.x.
#
# CAF 0.17 (e.g. Debian's libcaf-dev) ships no CMake package config, so this
# module finds the headers and libraries by hand.
#
# Components: core (always searched), io, openssl.
#
#   find_package(CAF 0.17 REQUIRED COMPONENTS core io)
#
# Result variables:
#   CAF_FOUND, CAF_VERSION, CAF_INCLUDE_DIRS, CAF_LIBRARIES,
#   CAF_<comp>_FOUND, CAF_<comp>_LIBRARY
#
# Imported targets:
#   CAF::core     libcaf_core (+ Threads::Threads)
#   CAF::io       libcaf_io   (+ CAF::core + Threads::Threads)
#   CAF::openssl  libcaf_openssl (+ CAF::io), if found
#
# Hints: CAF_ROOT (CMake's <Pkg>_ROOT mechanism) or CAF_ROOT_DIR.

include(FindPackageHandleStandardArgs)

set(_caf_known_components core io openssl)
foreach(_comp IN LISTS CAF_FIND_COMPONENTS)
  if(NOT _comp IN_LIST _caf_known_components)
    message(FATAL_ERROR "FindCAF: unknown component '${_comp}' "
                        "(known: ${_caf_known_components})")
  endif()
endforeach()

find_path(CAF_INCLUDE_DIR
  NAMES caf/config.hpp
  HINTS ${CAF_ROOT_DIR} ENV CAF_ROOT_DIR
  PATH_SUFFIXES include)
mark_as_advanced(CAF_INCLUDE_DIR)

set(CAF_VERSION "")
if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#[ \t]*define[ \t]+CAF_VERSION[ \t]+[0-9]+")
  if(_caf_version_line MATCHES "CAF_VERSION[ \t]+([0-9]+)")
    set(_caf_v "${CMAKE_MATCH_1}")
    math(EXPR _caf_major "${_caf_v} / 10000")
    math(EXPR _caf_minor "(${_caf_v} / 100) % 100")
    math(EXPR _caf_patch "${_caf_v} % 100")
    set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
    set(CAF_VERSION_MAJOR ${_caf_major})
    set(CAF_VERSION_MINOR ${_caf_minor})
    set(CAF_VERSION_PATCH ${_caf_patch})
  endif()
  unset(_caf_version_line)
endif()

set(CAF_LIBRARIES "")
# All components are searched; only the requested ones are required
# (HANDLE_COMPONENTS checks CAF_FIND_REQUIRED_<comp>).
foreach(_comp IN LISTS _caf_known_components)
  find_library(CAF_${_comp}_LIBRARY
    NAMES caf_${_comp}
    HINTS ${CAF_ROOT_DIR} ENV CAF_ROOT_DIR
    PATH_SUFFIXES lib lib64)
  mark_as_advanced(CAF_${_comp}_LIBRARY)
  if(CAF_${_comp}_LIBRARY AND CAF_INCLUDE_DIR)
    set(CAF_${_comp}_FOUND TRUE)
    list(APPEND CAF_LIBRARIES "${CAF_${_comp}_LIBRARY}")
  else()
    set(CAF_${_comp}_FOUND FALSE)
  endif()
endforeach()

find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR CAF_core_LIBRARY
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)

if(CAF_FOUND)
  set(CAF_INCLUDE_DIRS "${CAF_INCLUDE_DIR}")
  if(NOT TARGET Threads::Threads)
    set(THREADS_PREFER_PTHREAD_FLAG ON)
    find_package(Threads REQUIRED)
  endif()
  if(CAF_core_FOUND AND NOT TARGET CAF::core)
    add_library(CAF::core UNKNOWN IMPORTED)
    set_target_properties(CAF::core PROPERTIES
      IMPORTED_LOCATION "${CAF_core_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()
  if(CAF_io_FOUND AND NOT TARGET CAF::io)
    add_library(CAF::io UNKNOWN IMPORTED)
    set_target_properties(CAF::io PROPERTIES
      IMPORTED_LOCATION "${CAF_io_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "CAF::core;Threads::Threads")
  endif()
  if(CAF_openssl_FOUND AND TARGET CAF::io AND NOT TARGET CAF::openssl)
    add_library(CAF::openssl UNKNOWN IMPORTED)
    set_target_properties(CAF::openssl PROPERTIES
      IMPORTED_LOCATION "${CAF_openssl_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "CAF::io;Threads::Threads")
  endif()
endif()

unset(_caf_known_components)
