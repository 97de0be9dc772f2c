# `snapcell verify` in CI (label verify, and host: root, real kernel):
#   verify/matrix/<backend>-default-userns-host  the default supervisor on each backend as root
#                                        of the host's user namespace (expected/userns-host/)
#   verify/matrix/<backend>-<supervisor>  the whole catalogue, for every backend (overlay, btrfs,
#                                        copy) with every supervisor (default, cgroup, pidns,
#                                        session); every cell as checked in
#                                        (expected/<backend>-<supervisor>.txt), whose header says
#                                        why each cell that is not contained is what it is
#   verify/empty-base-is-not-run         a base without the programs: exit non-zero, "not run"
#   verify/json-reads-back               the --json report parsed with nlohmann-json
#   verify/mutant/<name>                 a CLI built against a copy of include/ with one
#                                        protection disabled: its technique must be leaked, with
#                                        the leak the mutant file names
# The containment table of docs/verify.md is generated from the same matrices
# (unit/docs-containment-table-matches-the-matrices, also label verify).
set(SNAPCELL_VERIFY_DIR ${CMAKE_CURRENT_LIST_DIR})
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
set(SNAPCELL_VERIFY_ENV "SNAPCELL_ADVERSARIES_DIR=${SNAPCELL_ADVERSARIES_DIR}")

# btrfs runs on verify's own loop filesystem with quotas on: each snapshot capped by a qgroup limit.
foreach(backend IN ITEMS overlay btrfs copy)
  foreach(supervisor IN ITEMS default cgroup pidns session)
    set(test verify/matrix/${backend}-${supervisor})
    set(expected ${SNAPCELL_VERIFY_DIR}/expected/${backend}-${supervisor}.txt)
    if(NOT EXISTS ${expected})
      message(FATAL_ERROR "${expected}: every backend and supervisor needs its matrix")
    endif()
    add_test(NAME ${test}
             COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:snapcell> -DBACKEND=${backend} -DSUPERVISOR=${supervisor}
                     -DEXPECTED=${expected} -P ${SNAPCELL_VERIFY_DIR}/check-matrix.cmake)
    set_tests_properties(${test} PROPERTIES LABELS "verify;host" RUN_SERIAL TRUE ENVIRONMENT "${SNAPCELL_VERIFY_ENV}"
                                            SKIP_REGULAR_EXPRESSION "SKIPPED:")
  endforeach()
endforeach()
add_dependencies(snapcell snapcell-adversaries)

# The documented opt-out, --userns host: the adversaries as root of the
# host's user namespace, against everything else of the sandbox (issue 13,
# acceptance 1). Its matrix shows what that remainder still stops.
foreach(backend IN ITEMS overlay btrfs copy)
  set(test verify/matrix/${backend}-default-userns-host)
  add_test(NAME ${test}
           COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:snapcell> -DBACKEND=${backend} -DSUPERVISOR=default -DUSERNS=host
                   -DEXPECTED=${SNAPCELL_VERIFY_DIR}/expected/userns-host/${backend}-default.txt
                   -P ${SNAPCELL_VERIFY_DIR}/check-matrix.cmake)
  set_tests_properties(${test} PROPERTIES LABELS "verify;host" RUN_SERIAL TRUE ENVIRONMENT "${SNAPCELL_VERIFY_ENV}"
                                          SKIP_REGULAR_EXPRESSION "SKIPPED:")
endforeach()

# A run that tried nothing is no pass: an empty --base has none of the programs.
add_test(NAME verify/empty-base-is-not-run
         COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:snapcell> -DWORK=${CMAKE_CURRENT_BINARY_DIR}/verify-empty-base
                 -P ${SNAPCELL_VERIFY_DIR}/expect-not-run.cmake)
set_tests_properties(verify/empty-base-is-not-run PROPERTIES LABELS "verify;host" RUN_SERIAL TRUE
                     SKIP_REGULAR_EXPRESSION "SKIPPED:")

add_executable(snapcell-verify-json-test ${SNAPCELL_VERIFY_DIR}/verify_json_test.cpp)
target_compile_options(snapcell-verify-json-test PRIVATE ${SNAPCELL_WARNINGS})
target_link_libraries(snapcell-verify-json-test PRIVATE snapcell_catch_main nlohmann_json::nlohmann_json fmt::fmt)
add_dependencies(snapcell-verify-json-test snapcell)
add_test(NAME verify/json-reads-back COMMAND snapcell-verify-json-test)
set_tests_properties(verify/json-reads-back PROPERTIES LABELS "verify;host" RUN_SERIAL TRUE
                     ENVIRONMENT "${SNAPCELL_VERIFY_ENV};SNAPCELL_CLI=$<TARGET_FILE:snapcell>"
                     SKIP_REGULAR_EXPRESSION "SKIPPED:" FAIL_REGULAR_EXPRESSION "${SNAPCELL_NOTHING_RAN}")

# Each mutant names the technique that must catch it, the supervisor to run,
# the leak it must cause (`# leak: <regex>`, matched against the report's
# leaks), and may name a backend (`# backend: btrfs`; overlay when absent).
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
  # `# userns: host`: a protection that root of its own user namespace does
  # not need (its powers end at its namespaces) shows under the opt-out.
  file(STRINGS ${spec} userns REGEX "^# userns: ")
  string(REPLACE "# userns: " "" userns "${userns}")
  if(NOT userns)
    set(userns own)
  endif()
  file(STRINGS ${spec} leak REGEX "^# leak: .")
  if(NOT technique OR NOT supervisor OR NOT leak)
    message(FATAL_ERROR "${spec}: needs lines '# technique: <name>', '# supervisor: <name>' and '# leak: <regex>'")
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
  # The one backend and supervisor its test runs (cli/policies.hpp): the
  # other Session types would only lengthen the build.
  target_compile_definitions(${cli} PRIVATE SNAPCELL_VERSION="${PROJECT_VERSION}"
                             SNAPCELL_CLI_ONLY_BACKEND="${backend}" SNAPCELL_CLI_ONLY_SUPERVISOR="${supervisor}")
  target_compile_options(${cli} PRIVATE -O1 -g0)
  add_test(NAME verify/mutant/${name}
           COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:${cli}> -DTECHNIQUE=${technique} -DSUPERVISOR=${supervisor}
                   -DBACKEND=${backend} -DUSERNS=${userns} -DSPEC=${spec}
                   -P ${SNAPCELL_VERIFY_DIR}/expect-leaked.cmake)
  set_tests_properties(verify/mutant/${name} PROPERTIES LABELS "verify;mutation;host" RUN_SERIAL TRUE
                       ENVIRONMENT "${SNAPCELL_VERIFY_ENV}" SKIP_REGULAR_EXPRESSION "SKIPPED:")
endforeach()
