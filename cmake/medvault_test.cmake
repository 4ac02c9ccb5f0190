# medvault_test(NAME name SOURCES ... LIBS ... LABEL unit|integration [TIMEOUT s])
# Registers one GoogleTest binary with ctest under a label, so CI and developers can run
# `ctest -L unit` or `ctest -L integration`.
function(medvault_test)
  cmake_parse_arguments(T "" "NAME;LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${T_NAME} PRIVATE
    MEDVAULT_BIN_DIR="${MEDVAULT_BIN_DIR}"
    MEDVAULT_PYDICOM_TEST_FILES="${MEDVAULT_PYDICOM_TEST_FILES}")
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABEL}" TIMEOUT ${T_TIMEOUT})
endfunction()
