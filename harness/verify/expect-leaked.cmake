# Runs `snapcell verify --only TECHNIQUE` with a CLI built against a mutant
# (one protection disabled); passes only when that technique is reported
# leaked and the exit code is 1: the check catches the missing protection.
#   cmake -DCLI=<mutant snapcell> -DTECHNIQUE=<name> -DSUPERVISOR=<s> [-DBACKEND=<b>] -P expect-leaked.cmake
execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT uid STREQUAL "0")
  message("SKIPPED: not root")
  return()
endif()
if(NOT BACKEND)
  set(BACKEND overlay)
endif()
execute_process(COMMAND ${CLI} verify --json --backend ${BACKEND} --supervisor ${SUPERVISOR} --only ${TECHNIQUE}
                RESULT_VARIABLE status OUTPUT_VARIABLE json ERROR_VARIABLE errors)
string(JSON verdict ERROR_VARIABLE bad GET "${json}" techniques 0 verdict)
if(bad)
  message(FATAL_ERROR "no report (exit ${status}):\n${json}\n${errors}")
endif()
string(JSON leaks GET "${json}" techniques 0 leaks)
if(NOT verdict STREQUAL "leaked" OR NOT status EQUAL 1)
  message(FATAL_ERROR "mutant NOT caught: ${TECHNIQUE} on ${BACKEND} under ${SUPERVISOR} is '${verdict}' (exit ${status}):\n${json}")
endif()
message("mutant caught: ${TECHNIQUE} on ${BACKEND} under ${SUPERVISOR} leaked: ${leaks}")
