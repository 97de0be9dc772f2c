# Runs the property suite built against a mutant; passes only when the suite
# fails with a violation of the invariant the mutant breaks.
#   cmake -DSUITE=<binary> -DINVARIANT=I2 -P expect-caught.cmake
execute_process(COMMAND ${CMAKE_COMMAND} -E env "RC_PARAMS=seed=1 max_success=300" ${SUITE}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
string(REGEX MATCHALL "INVARIANT VIOLATED ${INVARIANT}:[^\n]*" caught "${output}")
string(REGEX MATCH "test cases:[^\n]*" summary "${output}")
if(status EQUAL 0)
  message(FATAL_ERROR "mutant NOT caught: the property suite passed against it")
endif()
if(NOT status MATCHES "^[0-9]+$")
  message(FATAL_ERROR "the suite did not fail by a test, it died: ${status}\n${output}")
endif()
if(NOT caught)
  message(FATAL_ERROR "the suite failed, but not by a violation of ${INVARIANT}:\n${output}")
endif()
list(LENGTH caught count)
list(GET caught 0 first)
message(STATUS "mutant caught: ${count} violation(s) of ${INVARIANT}; first: ${first}\n   suite: ${summary}")
