# medvault_enforce_layers(target [GRPC_ONLY])
# Makes the build fail when a source of core library `target` reaches a forbidden header, directly
# or through another header (issue 15): gRPC, RocksDB and prometheus-cpp for the pure cores
# (medvault_raft_core, medvault_common_base), gRPC only with GRPC_ONLY (the services' core/
# libraries, which may use RocksDB and metrics; service/ translates). Those headers live in
# /usr/include, so include paths cannot hide them; instead, once the library is built, every source
# is preprocessed with its exact flags (compile_commands.json) and its include closure checked by
# scripts/check_layers.py. A violation fails that build step, and the ninja edge stays dirty until
# it is fixed. Call it in the directory that defines `target`.
function(medvault_enforce_layers target)
  cmake_parse_arguments(L "GRPC_ONLY" "" "" ${ARGN})
  set(mode)
  if(L_GRPC_ONLY)
    set(mode --grpc-only)
  endif()
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/check_layers.py ${mode}
      ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR}/compile_commands.json
      "${target}=$<TARGET_PROPERTY:${target},SOURCE_DIR>=$<JOIN:$<TARGET_PROPERTY:${target},SOURCES>,$<COMMA>>"
    COMMENT "Checking that ${target} reaches no header above its layer"
    VERBATIM)
endfunction()
