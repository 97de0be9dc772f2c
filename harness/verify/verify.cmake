# `snapcell verify` in CI (label verify, and host: root, real kernel):
#   verify/matrix/<backend>-<supervisor>  the whole catalogue; every cell as checked in (overlay
#                                        with each supervisor, btrfs with the default one)
#                                        (expected/<backend>-<supervisor>.txt)
#   verify/json-reads-back               the --json report parsed with nlohmann-json
#   verify/mutant/<name>                 a CLI built against a copy of include/ with one
#                                        protection disabled: its technique must be leaked
set(SNAPCELL_VERIFY_DIR ${CMAKE_CURRENT_LIST_DIR})
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
set(SNAPCELL_VERIFY_ENV "SNAPCELL_ADVERSARIES_DIR=${SNAPCELL_ADVERSARIES_DIR}")

foreach(supervisor IN ITEMS default cgroup pidns session)
  set(test verify/matrix/overlay-${supervisor})
  add_test(NAME ${test}
           COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:snapcell> -DBACKEND=overlay -DSUPERVISOR=${supervisor}
                   -DEXPECTED=${SNAPCELL_VERIFY_DIR}/expected/overlay-${supervisor}.txt
                   -P ${SNAPCELL_VERIFY_DIR}/check-matrix.cmake)
  set_tests_properties(${test} PROPERTIES LABELS "verify;host" RUN_SERIAL TRUE ENVIRONMENT "${SNAPCELL_VERIFY_ENV}"
                                          SKIP_REGULAR_EXPRESSION "SKIPPED:")
endforeach()
# btrfs on verify's own loop filesystem with quotas on: each snapshot capped by a qgroup limit.
set(test verify/matrix/btrfs-default)
add_test(NAME ${test}
         COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:snapcell> -DBACKEND=btrfs -DSUPERVISOR=default
                 -DEXPECTED=${SNAPCELL_VERIFY_DIR}/expected/btrfs-default.txt -P ${SNAPCELL_VERIFY_DIR}/check-matrix.cmake)
set_tests_properties(${test} PROPERTIES LABELS "verify;host" RUN_SERIAL TRUE ENVIRONMENT "${SNAPCELL_VERIFY_ENV}"
                                        SKIP_REGULAR_EXPRESSION "SKIPPED:")
add_dependencies(snapcell snapcell-adversaries)

add_executable(snapcell-verify-json-test ${SNAPCELL_VERIFY_DIR}/verify_json_test.cpp)
target_compile_options(snapcell-verify-json-test PRIVATE ${SNAPCELL_WARNINGS})
target_link_libraries(snapcell-verify-json-test PRIVATE snapcell_catch_main nlohmann_json::nlohmann_json fmt::fmt)
add_dependencies(snapcell-verify-json-test snapcell)
add_test(NAME verify/json-reads-back COMMAND snapcell-verify-json-test)
set_tests_properties(verify/json-reads-back PROPERTIES LABELS "verify;host" RUN_SERIAL TRUE
                     ENVIRONMENT "${SNAPCELL_VERIFY_ENV};SNAPCELL_CLI=$<TARGET_FILE:snapcell>"
                     SKIP_REGULAR_EXPRESSION "SKIPPED:" FAIL_REGULAR_EXPRESSION "${SNAPCELL_NOTHING_RAN}")

# Each mutant names the technique that must catch it and the supervisor to run,
# and may name a backend (`# backend: btrfs`; overlay when absent).
file(GLOB SNAPCELL_VERIFY_MUTANTS CONFIGURE_DEPENDS ${SNAPCELL_VERIFY_DIR}/mutants/*.mutant.cmake)
foreach(spec IN LISTS SNAPCELL_VERIFY_MUTANTS)
  get_filename_component(name ${spec} NAME)
  string(REPLACE ".mutant.cmake" "" name ${name})
  file(STRINGS ${spec} technique REGEX "^# technique: ")
  file(STRINGS ${spec} supervisor REGEX "^# supervisor: ")
  string(REPLACE "# technique: " "" technique "${technique}")
  string(REPLACE "# supervisor: " "" supervisor "${supervisor}")
  file(STRINGS ${spec} backend REGEX "^# backend: ")
  string(REPLACE "# backend: " "" backend "${backend}")
  if(NOT backend)
    set(backend overlay)
  endif()
  if(NOT technique OR NOT supervisor)
    message(FATAL_ERROR "${spec}: needs lines '# technique: <name>' and '# supervisor: <name>'")
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/verify-mutants/${name}/include)
  add_custom_command(
    OUTPUT ${out}/.applied
    COMMAND ${CMAKE_COMMAND} -DSPEC=${spec} -DSOURCE=${PROJECT_SOURCE_DIR}/include -DOUT=${out}
            -P ${CMAKE_CURRENT_SOURCE_DIR}/mutants/apply-mutant.cmake
    DEPENDS ${spec} ${SNAPCELL_ALL_HEADERS} ${CMAKE_CURRENT_SOURCE_DIR}/mutants/apply-mutant.cmake
    COMMENT "Applying verify mutant ${name}")
  add_custom_target(verify-mutant-${name}-sources DEPENDS ${out}/.applied)
  set(cli snapcell-verify-mutant-${name})
  add_executable(${cli} ${PROJECT_SOURCE_DIR}/reference/main.cpp)
  add_dependencies(${cli} verify-mutant-${name}-sources snapcell-adversaries)
  target_include_directories(${cli} BEFORE PRIVATE ${out} ${PROJECT_SOURCE_DIR}/reference)
  target_link_libraries(${cli} PRIVATE fmt::fmt CLI11::CLI11 nlohmann_json::nlohmann_json ${CMAKE_DL_LIBS})
  target_compile_features(${cli} PRIVATE cxx_std_20)
  target_compile_options(${cli} PRIVATE -O1 -g0)
  add_test(NAME verify/mutant/${name}
           COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:${cli}> -DTECHNIQUE=${technique} -DSUPERVISOR=${supervisor}
                   -DBACKEND=${backend}
                   -P ${SNAPCELL_VERIFY_DIR}/expect-leaked.cmake)
  set_tests_properties(verify/mutant/${name} PROPERTIES LABELS "verify;mutation;host" RUN_SERIAL TRUE
                       ENVIRONMENT "${SNAPCELL_VERIFY_ENV}" SKIP_REGULAR_EXPRESSION "SKIPPED:")
endforeach()
