# Mutation checks: each harness/mutants/<name>.cmake weakens the code in one
# way the field has seen; the property suite, built against the weakened copy
# of include/, must catch it in the scenarios the file names, each with a
# violation of the invariant named for it (`# caught by: I<n> in <scenario>`,
# checked by expect-caught.cmake). ctest: mutant/<name>, label `mutation`.
# A mutant with `# vm caught by: I<n> in <guest case>` lines is also built
# into a qemu guest and run there (vm-tests/CMakeLists.txt: mutant/vm-<name>,
# labels `mutation;vm`); it is listed for vm-tests in the global property
# SNAPCELL_VM_MUTANTS, with its include dir and spec in
# SNAPCELL_MUTANT_INCLUDE_<name> and SNAPCELL_MUTANT_SPEC_<name>.
file(GLOB SNAPCELL_MUTANTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.mutant.cmake)
file(GLOB_RECURSE SNAPCELL_ALL_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/*.hpp)

foreach(spec IN LISTS SNAPCELL_MUTANTS)
  get_filename_component(name ${spec} NAME)
  string(REPLACE ".mutant.cmake" "" name ${name})
  file(STRINGS ${spec} caught_by REGEX "^# caught by: I[1-9] in .")
  if(NOT caught_by)
    message(FATAL_ERROR "${spec}: needs a line '# caught by: I<n> in <scenario>' per scenario that must catch it")
  endif()

  set(out ${CMAKE_CURRENT_BINARY_DIR}/mutants/${name}/include)
  add_custom_command(
    OUTPUT ${out}/.applied
    COMMAND ${CMAKE_COMMAND} -DSPEC=${spec} -DSOURCE=${PROJECT_SOURCE_DIR}/include -DOUT=${out}
            -P ${CMAKE_CURRENT_LIST_DIR}/apply-mutant.cmake
    DEPENDS ${spec} ${SNAPCELL_ALL_HEADERS} ${CMAKE_CURRENT_LIST_DIR}/apply-mutant.cmake
    COMMENT "Applying mutant ${name}")
  add_custom_target(mutant-${name}-sources DEPENDS ${out}/.applied)

  file(STRINGS ${spec} vm_caught_by REGEX "^# vm caught by: ")
  if(vm_caught_by)
    set_property(GLOBAL APPEND PROPERTY SNAPCELL_VM_MUTANTS ${name})
    set_property(GLOBAL PROPERTY SNAPCELL_MUTANT_INCLUDE_${name} ${out})
    set_property(GLOBAL PROPERTY SNAPCELL_MUTANT_SPEC_${name} ${spec})
  endif()

  set(suite snapcell-property-mutant-${name})
  snapcell_add_property_suite(${suite} ${out})
  add_dependencies(${suite} mutant-${name}-sources)
  # One translation unit and light optimisation: these are built seven times.
  set_target_properties(${suite} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0 DISABLE_PRECOMPILE_HEADERS ON)
  target_compile_options(${suite} PRIVATE -O1 -g0)

  # The seed scenario on the real kernel, against the same weakened copy.
  if(name STREQUAL "no-root-guard")
    add_executable(snapcell-host-mutant-${name} ${CMAKE_CURRENT_SOURCE_DIR}/host/seed_scenario_test.cpp)
    add_dependencies(snapcell-host-mutant-${name} mutant-${name}-sources)
    target_include_directories(snapcell-host-mutant-${name} BEFORE PRIVATE ${out} ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(snapcell-host-mutant-${name} PRIVATE fmt::fmt snapcell_catch_main)
    target_compile_features(snapcell-host-mutant-${name} PRIVATE cxx_std_20)
    add_test(NAME mutant/host-${name}
             COMMAND ${CMAKE_COMMAND} -DSUITE=$<TARGET_FILE:snapcell-host-mutant-${name}> -DSPEC=${spec}
                     "-DKEY=host caught by" -P ${CMAKE_CURRENT_LIST_DIR}/expect-caught.cmake)
    set_tests_properties(mutant/host-${name} PROPERTIES LABELS "mutation;host" RUN_SERIAL TRUE
                         SKIP_REGULAR_EXPRESSION "SKIPPED:")
  endif()

  add_test(NAME mutant/${name}
           COMMAND ${CMAKE_COMMAND} -DSUITE=$<TARGET_FILE:${suite}> -DSPEC=${spec}
                   -P ${CMAKE_CURRENT_LIST_DIR}/expect-caught.cmake)
  set_tests_properties(mutant/${name} PROPERTIES LABELS mutation)
endforeach()
