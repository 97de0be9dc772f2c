# Runs, in the suite built against a mutant, only the scenarios the mutant
# file names, one at a time, and passes only when each fails with a
# violation of the invariant named for it: a mutant is caught by the
# scenario meant to catch it, for the reason it breaks, or not at all.
#   cmake -DSUITE=<binary> -DSPEC=<mutant file> [-DKEY=caught by] -P expect-caught.cmake
# The mutant file names them one per line:
#   # caught by: I5 in two sessions whose nonces collide never share a name*
# (a Catch test name; a trailing * also matches each supervisor's instance
# of a template test). KEY picks the lines ("host caught by" for a host suite).
cmake_minimum_required(VERSION 3.25)
if(NOT KEY)
  set(KEY "caught by")
endif()
file(STRINGS ${SPEC} lines REGEX "^# ${KEY}: ")
if(NOT lines)
  message(FATAL_ERROR "${SPEC}: no line '# ${KEY}: I<n> in <scenario>'")
endif()
set(failures "")
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^# ${KEY}: (I[1-9]) in (.+)$")
    message(FATAL_ERROR "${SPEC}: '${line}' is not '# ${KEY}: I<n> in <scenario>'")
  endif()
  set(invariant ${CMAKE_MATCH_1})
  set(scenario ${CMAKE_MATCH_2})
  # Catch's test spec: a comma separates names, brackets are tags; escape them.
  string(REPLACE "," "\\," filter "${scenario}")
  string(REPLACE "[" "\\[" filter "${filter}")
  string(REPLACE "]" "\\]" filter "${filter}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env "RC_PARAMS=seed=1 max_success=300" ${SUITE} "${filter}"
                  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(output MATCHES "SKIPPED:")
    message("SKIPPED: ${scenario}: the suite skipped it:\n${output}")
    return()
  endif()
  string(REGEX MATCH "test cases:[^\n]*" summary "${output}")
  string(REGEX MATCHALL "INVARIANT VIOLATED ${invariant}:[^\n]*" caught "${output}")
  string(REGEX MATCHALL "INVARIANT VIOLATED I[1-9]:" all "${output}")
  list(REMOVE_DUPLICATES all)
  if(output MATCHES "No test cases matched|No tests ran")
    string(APPEND failures "  '${scenario}': matches no test case of the suite\n")
  elseif(status EQUAL 0)
    string(APPEND failures "  '${scenario}': passed against the mutant (${summary})\n")
  elseif(NOT status MATCHES "^[0-9]+$")
    string(APPEND failures "  '${scenario}': the suite died, not failed: ${status}\n${output}\n")
  elseif(NOT caught)
    string(APPEND failures "  '${scenario}': failed, but with no violation of ${invariant} (seen: ${all}):\n${output}\n")
  else()
    list(LENGTH caught count)
    list(GET caught 0 first)
    message("caught by '${scenario}': ${count} violation(s) of ${invariant} (all seen: ${all}); first: ${first}\n   ${summary}")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "mutant NOT caught as its file says (${SPEC}):\n${failures}")
endif()
