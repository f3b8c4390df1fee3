# Runs PROGRAM with ARGS and checks its stdout (used by example tests).
#   cmake -DPROGRAM=<exe> [-DARGS="a;b"] [-DEXPECT_FILE=<file> | -DPASS_REGEX=<re>]
#         [-DACTUAL_DIR=<dir for <name>.actual.txt on mismatch>]
#         [-DSPEC=<file>] -P RunAndCompare.cmake
# SPEC is a CMake file setting any of the variables above (written by
# actorflow_add_example).
# Fails if the exit code is not 0, if stdout differs from EXPECT_FILE (exact,
# line endings normalized) or if stdout does not match PASS_REGEX.
cmake_minimum_required(VERSION 3.18)

if(SPEC)
  include("${SPEC}")
endif()
if(NOT PROGRAM)
  message(FATAL_ERROR "RunAndCompare: PROGRAM not set")
endif()

execute_process(COMMAND "${PROGRAM}" ${ARGS}
                OUTPUT_VARIABLE out
                ERROR_VARIABLE err
                RESULT_VARIABLE rc)
string(REPLACE "\r\n" "\n" out "${out}")

if(NOT rc EQUAL 0)
  message("---- stdout ----\n${out}---- stderr ----\n${err}")
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}")
endif()
if(err)
  message("---- stderr ----\n${err}")
endif()

if(EXPECT_FILE)
  file(READ "${EXPECT_FILE}" expected)
  string(REPLACE "\r\n" "\n" expected "${expected}")
  if(NOT out STREQUAL expected)
    get_filename_component(_name "${PROGRAM}" NAME)
    if(NOT ACTUAL_DIR)
      set(ACTUAL_DIR "${CMAKE_CURRENT_BINARY_DIR}")
    endif()
    set(actual_file "${ACTUAL_DIR}/${_name}.actual.txt")
    file(WRITE "${actual_file}" "${out}")
    execute_process(COMMAND diff -u "${EXPECT_FILE}" "${actual_file}")
    message(FATAL_ERROR "stdout differs from ${EXPECT_FILE} "
                        "(actual output in ${actual_file})")
  endif()
elseif(DEFINED PASS_REGEX)
  if(NOT out MATCHES "${PASS_REGEX}")
    message("---- stdout ----\n${out}")
    message(FATAL_ERROR "stdout does not match regex: ${PASS_REGEX}")
  endif()
else()
  message("---- stdout ----\n${out}")
endif()
