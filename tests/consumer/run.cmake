# Driver of the consumer tests (run by ctest, see tests/CMakeLists.txt):
#   cmake -DMODE=install|cmake|pkgconfig -DBUILD_DIR=... -DPREFIX=...
#         -DSOURCE_DIR=... -DWORK_DIR=... [-DCONFIG=...] [-DGENERATOR=...]
#         [-DCXX_COMPILER=...] [-DSAN_FLAGS="..."] [-DPKG_CONFIG=...]
#         [-DWERROR=ON|OFF] [-DEXPECT_NODE=ON|OFF] [-DEXPECT_METRICS=ON|OFF]
#         -P run.cmake
# EXPECT_NODE: the install holds the node program, its systemd unit and the
# example plugin, and the cmake mode runs a pipeline through that node.
# EXPECT_METRICS: the install holds actorflow::metrics (the Prometheus
# exporter), and the cmake mode builds and runs a program that links it.
cmake_minimum_required(VERSION 3.18)

foreach(var MODE BUILD_DIR PREFIX SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run.cmake: ${var} is not set")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

function(run)
  string(REPLACE ";" " " _pretty "${ARGN}")
  message(STATUS "$ ${_pretty}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${_pretty}")
  endif()
endfunction()

separate_arguments(san_flags UNIX_COMMAND "${SAN_FLAGS}")

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
      --config "${CONFIG}")
  # Sanity checks of the installed tree.
  file(GLOB_RECURSE cfg_files "${PREFIX}/*/actorflowConfig.cmake")
  file(GLOB_RECURSE pc_files "${PREFIX}/*/actorflow.pc")
  file(GLOB_RECURSE find_caf "${PREFIX}/*/FindCAF.cmake")
  if(NOT cfg_files OR NOT pc_files OR NOT find_caf)
    message(FATAL_ERROR "install: actorflowConfig.cmake, FindCAF.cmake or "
                        "actorflow.pc missing under ${PREFIX}")
  endif()
  if(EXISTS "${PREFIX}/include/actorflow/internal")
    message(FATAL_ERROR "install: actorflow/internal/ must never be installed")
  endif()
  file(GLOB_RECURSE headers "${PREFIX}/include/actorflow/*.hpp")
  if(NOT headers)
    message(FATAL_ERROR "install: no headers under ${PREFIX}/include/actorflow")
  endif()
  foreach(h IN LISTS headers)
    file(STRINGS "${h}" bad REGEX "#[ \t]*include[ \t]*[\"<]actorflow/internal/")
    if(bad)
      message(FATAL_ERROR "install: public header ${h} includes an internal "
                          "header: ${bad}")
    endif()
  endforeach()
  list(LENGTH headers n)
  message(STATUS "installed ${n} headers into ${PREFIX}")
  if(EXPECT_NODE)
    file(GLOB_RECURSE unit "${PREFIX}/*/actorflow/actorflow-node@.service")
    file(GLOB_RECURSE ini "${PREFIX}/*/actorflow/node.ini.example")
    file(GLOB_RECURSE plugin "${PREFIX}/*/actorflow/plugins/*example_stages*")
    if(NOT EXISTS "${PREFIX}/bin/actorflow_node" OR NOT unit OR NOT ini
       OR NOT plugin)
      message(FATAL_ERROR "install: bin/actorflow_node, the systemd unit, "
                          "node.ini.example or the example plugin missing "
                          "under ${PREFIX}")
    endif()
  endif()

elseif(MODE STREQUAL "cmake")
  set(bin "${WORK_DIR}/cmake")
  file(REMOVE_RECURSE "${bin}")
  set(gen_args)
  if(GENERATOR)
    set(gen_args -G "${GENERATOR}")
  endif()
  set(cxx_args)
  if(CXX_COMPILER)
    set(cxx_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
  endif()
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${bin}" ${gen_args} ${cxx_args}
      "-DCMAKE_PREFIX_PATH=${PREFIX}"
      "-DCMAKE_BUILD_TYPE=${CONFIG}"
      "-DCMAKE_CXX_FLAGS=${SAN_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${SAN_FLAGS}"
      -DCONSUMER_CHECK_HEADERS=ON
      "-DCONSUMER_EXPECT_METRICS=${EXPECT_METRICS}")
  run("${CMAKE_COMMAND}" --build "${bin}" --config "${CONFIG}")
  set(exe_dir "${bin}")
  if(EXISTS "${bin}/${CONFIG}/consumer")
    set(exe_dir "${bin}/${CONFIG}")
  endif()
  run("${exe_dir}/consumer")
  if(EXPECT_NODE)
    file(GLOB_RECURSE plugin "${PREFIX}/*/actorflow/plugins/*example_stages*")
    list(GET plugin 0 plugin)
    run("${exe_dir}/node_consumer" "${PREFIX}/bin/actorflow_node" "${plugin}")
  endif()
  if(EXPECT_METRICS)
    run("${exe_dir}/metrics_consumer")
  endif()

elseif(MODE STREQUAL "pkgconfig")
  if(NOT PKG_CONFIG)
    message(FATAL_ERROR "pkgconfig: no pkg-config program")
  endif()
  file(GLOB_RECURSE pc_files "${PREFIX}/*/actorflow.pc")
  if(NOT pc_files)
    message(FATAL_ERROR "pkgconfig: no actorflow.pc under ${PREFIX}")
  endif()
  list(GET pc_files 0 pc_file)
  get_filename_component(pc_dir "${pc_file}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs actorflow
                  OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --cflags --libs actorflow failed")
  endif()
  execute_process(COMMAND "${PKG_CONFIG}" --variable=libdir actorflow
                  OUTPUT_VARIABLE libdir OUTPUT_STRIP_TRAILING_WHITESPACE)
  message(STATUS "pkg-config --cflags --libs actorflow: ${pc_flags}")
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  set(cxx "${CXX_COMPILER}")
  if(NOT cxx)
    set(cxx c++)
  endif()
  set(warn -Wall -Wextra)
  if(WERROR)
    list(APPEND warn -Werror)
  endif()
  set(opt -O2)
  if(CONFIG STREQUAL "Debug")
    set(opt -O0 -g)
  elseif(san_flags OR CONFIG STREQUAL "RelWithDebInfo")
    # Sanitizer suppressions match symbolized frames: keep debug info.
    set(opt -O2 -g)
  endif()
  file(REMOVE_RECURSE "${WORK_DIR}/pkgconfig")
  file(MAKE_DIRECTORY "${WORK_DIR}/pkgconfig")
  set(exe "${WORK_DIR}/pkgconfig/consumer")
  run("${cxx}" ${opt} ${warn} -fvisibility=hidden -fvisibility-inlines-hidden
      ${san_flags} "${SOURCE_DIR}/main.cpp" -o "${exe}" ${pc_flags})
  run("${CMAKE_COMMAND}" -E env "LD_LIBRARY_PATH=${libdir}" "${exe}")

else()
  message(FATAL_ERROR "run.cmake: unknown MODE '${MODE}'")
endif()
