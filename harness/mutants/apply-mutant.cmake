# Copies the include tree and applies one mutant's edits to the copy.
#   cmake -DSPEC=<spec.cmake> -DSOURCE=<include dir> -DOUT=<dir> -P apply-mutant.cmake
# Each edit must match exactly once: a mutant that no longer applies is a
# build error, never a silently unmutated test.
file(REMOVE_RECURSE ${OUT})
file(COPY ${SOURCE}/ DESTINATION ${OUT})

function(mutate relative_path from to)
  set(path ${OUT}/${relative_path})
  file(READ ${path} text)
  string(FIND "${text}" "${from}" first)
  string(FIND "${text}" "${from}" last REVERSE)
  if(first EQUAL -1)
    message(FATAL_ERROR "mutant ${SPEC}: no longer applies to ${relative_path}:\n${from}")
  endif()
  if(NOT first EQUAL last)
    message(FATAL_ERROR "mutant ${SPEC}: matches more than once in ${relative_path}:\n${from}")
  endif()
  string(REPLACE "${from}" "${to}" text "${text}")
  file(WRITE ${path} "${text}")
endfunction()

include(${SPEC})
file(TOUCH ${OUT}/.applied)
