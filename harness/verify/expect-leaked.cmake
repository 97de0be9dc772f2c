# Runs `snapcell verify --only TECHNIQUE` with a CLI built against a mutant
# (one protection disabled); passes only when that technique is reported
# leaked with the leak the mutant file names (`# leak: <regex>`, matched
# against each of the report's leaks) and the exit code is 1: the check
# catches the missing protection, for the reason it is missing.
#   cmake -DCLI=<mutant snapcell> -DTECHNIQUE=<name> -DSUPERVISOR=<s> [-DBACKEND=<b>] [-DUSERNS=own|host]
#         -DSPEC=<mutant file>
#         -P expect-leaked.cmake
execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT uid STREQUAL "0")
  message("SKIPPED: not root")
  return()
endif()
if(NOT BACKEND)
  set(BACKEND overlay)
endif()
if(NOT USERNS)
  set(USERNS own)
endif()
execute_process(COMMAND ${CLI} verify --json --backend ${BACKEND} --supervisor ${SUPERVISOR} --userns ${USERNS}
                        --only ${TECHNIQUE}
                RESULT_VARIABLE status OUTPUT_VARIABLE json ERROR_VARIABLE errors)
string(JSON verdict ERROR_VARIABLE bad GET "${json}" techniques 0 verdict)
if(bad)
  message(FATAL_ERROR "no report (exit ${status}):\n${json}\n${errors}")
endif()
string(JSON leaks GET "${json}" techniques 0 leaks)
if(NOT verdict STREQUAL "leaked" OR NOT status EQUAL 1)
  message(FATAL_ERROR "mutant NOT caught: ${TECHNIQUE} on ${BACKEND} under ${SUPERVISOR} (--userns ${USERNS}) is "
                      "'${verdict}' (exit ${status}):\n${json}")
endif()
file(STRINGS ${SPEC} leak_line REGEX "^# leak: .")
string(REGEX REPLACE "^# leak: " "" leak_regex "${leak_line}")
if(NOT leak_regex)
  message(FATAL_ERROR "${SPEC}: no line '# leak: <regex>'")
endif()
string(JSON count LENGTH "${json}" techniques 0 leaks)
set(matched "")
if(count GREATER 0)
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON leak GET "${json}" techniques 0 leaks ${i})
    if(leak MATCHES "${leak_regex}")
      set(matched "${leak}")
      break()
    endif()
  endforeach()
endif()
if(NOT matched)
  message(FATAL_ERROR "mutant leaked, but not as its file says: no leak matches '${leak_regex}'; leaks: ${leaks}")
endif()
message("mutant caught: ${TECHNIQUE} on ${BACKEND} under ${SUPERVISOR} leaked as expected ('${leak_regex}'): ${matched}\n"
        "all leaks: ${leaks}")
