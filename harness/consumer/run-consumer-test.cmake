# Installs the build tree into a scratch prefix, then builds and runs the
# consumer against it. Run by ctest as packaging/find-package-consumer.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed (${status}): ${ARGV}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
# The man page comes with the install (docs/snapcell.1, share/man/man1).
if(NOT EXISTS ${prefix}/share/man/man1/snapcell.1)
  message(FATAL_ERROR "cmake --install put no share/man/man1/snapcell.1 in ${prefix}")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/harness/consumer -B ${WORK_DIR}/build -G Ninja -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
file(REMOVE_RECURSE ${WORK_DIR})
