# I9 Interruptible (issue 14), on the real host (label host; root): SIGINT,
# SIGTERM and SIGHUP to `snapcell run`, `build` and `verify --only` at
# seed-chosen moments end in the full teardown (signal_teardown_test.sh);
# a second SIGINT does not cut the teardown short; and a CLI built against a
# copy of include/ whose signals are not handled fails the same test
# (label mutation).
set(SNAPCELL_SIGNALS_DIR ${CMAKE_CURRENT_LIST_DIR})
set(signal_test ${SNAPCELL_SIGNALS_DIR}/signal_teardown_test.sh)
set(signal_args ${SNAPCELL_BUILDER_BASES} ${SNAPCELL_BUILDER_BASE} ${PROJECT_SOURCE_DIR}/reference/samples)

foreach(mode IN ITEMS run build verify second)
  if(mode STREQUAL "second")
    set(test host/cli-second-sigint-during-teardown-does-not-cut-it-short)
  else()
    set(test host/cli-${mode}-signalled-30-times-ends-interrupted-with-nothing-left)
  endif()
  add_test(NAME ${test} COMMAND ${signal_test} $<TARGET_FILE:snapcell> ${mode} ${signal_args})
  set_tests_properties(${test} PROPERTIES LABELS "host;cli" RUN_SERIAL TRUE TIMEOUT 900
                       ENVIRONMENT "SNAPCELL_ADVERSARIES_DIR=${SNAPCELL_ADVERSARIES_DIR}"
                       SKIP_REGULAR_EXPRESSION "SKIPPED:")
  if(mode STREQUAL "second")
    set_tests_properties(${test} PROPERTIES ENVIRONMENT "TRIALS=10")
  endif()
  if(mode STREQUAL "build")
    set_tests_properties(${test} PROPERTIES FIXTURES_REQUIRED builder-base LABELS "host;cli;builder")
  endif()
endforeach()

file(GLOB SNAPCELL_CLI_MUTANTS CONFIGURE_DEPENDS ${SNAPCELL_SIGNALS_DIR}/mutants/*.mutant.cmake)
foreach(spec IN LISTS SNAPCELL_CLI_MUTANTS)
  get_filename_component(name ${spec} NAME)
  string(REPLACE ".mutant.cmake" "" name ${name})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/cli-mutants/${name}/include)
  add_custom_command(
    OUTPUT ${out}/.applied
    COMMAND ${CMAKE_COMMAND} -DSPEC=${spec} -DSOURCE=${PROJECT_SOURCE_DIR}/include -DOUT=${out}
            -P ${CMAKE_CURRENT_SOURCE_DIR}/mutants/apply-mutant.cmake
    DEPENDS ${spec} ${SNAPCELL_ALL_HEADERS} ${CMAKE_CURRENT_SOURCE_DIR}/mutants/apply-mutant.cmake
    COMMENT "Applying CLI mutant ${name}")
  add_custom_target(cli-mutant-${name}-sources DEPENDS ${out}/.applied)
  set(cli snapcell-cli-mutant-${name})
  add_executable(${cli} ${PROJECT_SOURCE_DIR}/reference/main.cpp)
  add_dependencies(${cli} cli-mutant-${name}-sources)
  target_include_directories(${cli} BEFORE PRIVATE ${out} ${PROJECT_SOURCE_DIR}/reference)
  target_link_libraries(${cli} PRIVATE fmt::fmt CLI11::CLI11 nlohmann_json::nlohmann_json ${CMAKE_DL_LIBS})
  target_compile_features(${cli} PRIVATE cxx_std_20)
  target_compile_definitions(${cli} PRIVATE SNAPCELL_VERSION="${PROJECT_VERSION}")
  target_compile_options(${cli} PRIVATE -O1 -g0)
  # Ten trials are plenty: the unmutated CLI passes all thirty.
  add_test(NAME mutant/cli-${name}
           COMMAND ${SNAPCELL_SIGNALS_DIR}/expect-caught.sh ${signal_test} $<TARGET_FILE:${cli}> run ${signal_args})
  set_tests_properties(mutant/cli-${name} PROPERTIES LABELS "mutation;host;cli" RUN_SERIAL TRUE TIMEOUT 600
                       ENVIRONMENT "TRIALS=10" SKIP_REGULAR_EXPRESSION "SKIPPED:")
endforeach()

# The lease rule (no build uid, no user namespace range, while a process runs
# as one of its ids), against the real /proc.
add_executable(snapcell-uid-lease-test ${SNAPCELL_SIGNALS_DIR}/uid_lease_test.cpp)
target_include_directories(snapcell-uid-lease-test PRIVATE ${PROJECT_SOURCE_DIR}/reference)
target_compile_options(snapcell-uid-lease-test PRIVATE ${SNAPCELL_WARNINGS})
target_link_libraries(snapcell-uid-lease-test PRIVATE snapcell::core snapcell_catch_main)
add_test(NAME host/id-lease-skips-ids-a-process-still-runs-as COMMAND snapcell-uid-lease-test)
set_tests_properties(host/id-lease-skips-ids-a-process-still-runs-as PROPERTIES LABELS "host;cli" RUN_SERIAL TRUE
                     SKIP_REGULAR_EXPRESSION "SKIPPED:" FAIL_REGULAR_EXPRESSION "${SNAPCELL_NOTHING_RAN}")

# The output log's cap, its note and its tail (cli/capped_log.hpp, cli/session_log.hpp).
add_executable(snapcell-capped-log-test ${SNAPCELL_SIGNALS_DIR}/capped_log_test.cpp)
target_include_directories(snapcell-capped-log-test PRIVATE ${PROJECT_SOURCE_DIR}/reference)
target_compile_options(snapcell-capped-log-test PRIVATE ${SNAPCELL_WARNINGS})
target_link_libraries(snapcell-capped-log-test PRIVATE snapcell::core snapcell_catch_main)
catch_discover_tests(snapcell-capped-log-test TEST_PREFIX "cli/" PROPERTIES LABELS "unit;cli")

# What a build hands back (cli/wheel_out.hpp): FIFOs, links and oversized
# files refused without blocking or copying, and the capped copy.
add_executable(snapcell-wheel-out-test ${SNAPCELL_SIGNALS_DIR}/wheel_out_test.cpp)
target_include_directories(snapcell-wheel-out-test PRIVATE ${PROJECT_SOURCE_DIR}/reference)
target_compile_options(snapcell-wheel-out-test PRIVATE ${SNAPCELL_WARNINGS})
target_link_libraries(snapcell-wheel-out-test PRIVATE snapcell::core snapcell_catch_main ${CMAKE_DL_LIBS})
catch_discover_tests(snapcell-wheel-out-test TEST_PREFIX "cli/" PROPERTIES LABELS "unit;cli")

# Who a build runs as and whose /build it gets (cli/build_identity.hpp).
add_executable(snapcell-build-identity-test ${SNAPCELL_SIGNALS_DIR}/build_identity_test.cpp)
target_include_directories(snapcell-build-identity-test PRIVATE ${PROJECT_SOURCE_DIR}/reference)
target_compile_options(snapcell-build-identity-test PRIVATE ${SNAPCELL_WARNINGS})
target_link_libraries(snapcell-build-identity-test PRIVATE snapcell::core snapcell_catch_main)
catch_discover_tests(snapcell-build-identity-test TEST_PREFIX "cli/" PROPERTIES LABELS "unit;cli"
                     SKIP_REGULAR_EXPRESSION "SKIPPED:")
