# Runs PROGRAM with ARGS and checks that it exits with EXIT_CODE and that its
# stderr matches STDERR_REGEX (used to test the examples' error handling).
#   cmake -DPROGRAM=<exe> -DARGS="a;b" -DEXIT_CODE=<n> -DSTDERR_REGEX=<re>
#         -P ExpectExitCode.cmake
cmake_minimum_required(VERSION 3.18)
execute_process(COMMAND "${PROGRAM}" ${ARGS}
                OUTPUT_VARIABLE out
                ERROR_VARIABLE err
                RESULT_VARIABLE rc)
if(NOT rc STREQUAL "${EXIT_CODE}")
  message("---- stdout ----\n${out}---- stderr ----\n${err}")
  message(FATAL_ERROR "${PROGRAM} exited with '${rc}', expected ${EXIT_CODE}")
endif()
if(NOT err MATCHES "${STDERR_REGEX}")
  message("---- stderr ----\n${err}")
  message(FATAL_ERROR "stderr does not match regex: ${STDERR_REGEX}")
endif()
