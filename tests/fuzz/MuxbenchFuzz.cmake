# Fuzz targets (libFuzzer). Each target is one LLVMFuzzerTestOneInput in a source file, built two
# ways by muxbench_fuzzer():
#   * always, with any compiler: fuzz_replay_NAME, a GoogleTest registered with ctest that feeds
#     every file of tests/fuzz-corpus/NAME (hand-made seeds and the crashes found so far) to the
#     target, so `./bench test` under gcc replays them as regression cases;
#   * with -DMUXBENCH_FUZZ=ON and clang: NAME-fuzzer in <build>/fuzz, built with
#     -fsanitize=fuzzer,address,undefined; the umbrella target `fuzzers` builds them all.
#     `./bench fuzz` and .ci/run configure build-fuzz that way and run them.
option(MUXBENCH_FUZZ "Build the libFuzzer targets (needs clang and libclang-rt-14-dev)" OFF)

if(MUXBENCH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR
      "MUXBENCH_FUZZ=ON needs clang: libFuzzer is part of clang, and this build uses "
      "${CMAKE_CXX_COMPILER_ID} (${CMAKE_CXX_COMPILER}). Configure a separate directory with "
      "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ (./bench fuzz does that), or install "
      "it with: sudo apt-get install -y clang libclang-rt-14-dev")
  endif()
  add_custom_target(fuzzers)
  message(STATUS "fuzz targets: libFuzzer + ASan + UBSan in ${CMAKE_BINARY_DIR}/fuzz")
endif()

# Captured here: inside the function CMAKE_CURRENT_LIST_DIR is the caller's folder.
set(MUXBENCH_FUZZ_SUPPORT ${CMAKE_CURRENT_LIST_DIR})
set(MUXBENCH_FUZZ_CORPUS ${PROJECT_SOURCE_DIR}/tests/fuzz-corpus)

# muxbench_fuzzer(NAME SOURCES... LIBS...): SOURCES holds the target's LLVMFuzzerTestOneInput and
# the code under test (compiled into the target so that libFuzzer's coverage sees it).
function(muxbench_fuzzer name)
  cmake_parse_arguments(F "" "" "SOURCES;LIBS;INCLUDES" ${ARGN})
  set(corpus ${MUXBENCH_FUZZ_CORPUS}/${name})
  if(MUXBENCH_FUZZ)
    set(exe ${name}-fuzzer)
    add_executable(${exe} ${F_SOURCES})
    target_include_directories(${exe} PRIVATE ${F_INCLUDES} ${MUXBENCH_FUZZ_SUPPORT})
    target_link_libraries(${exe} PRIVATE ${F_LIBS})
    set(flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
              -fno-omit-frame-pointer -g)
    target_compile_options(${exe} PRIVATE ${flags})
    target_link_options(${exe} PRIVATE ${flags})
    set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
    add_dependencies(fuzzers ${exe})
  else()
    muxbench_test(fuzz_replay_${name}
      SOURCES ${F_SOURCES} ${MUXBENCH_FUZZ_SUPPORT}/FuzzReplay.cpp
      LIBS ${F_LIBS})
    target_include_directories(fuzz_replay_${name} PRIVATE ${F_INCLUDES}
                               ${MUXBENCH_FUZZ_SUPPORT})
    target_compile_definitions(fuzz_replay_${name} PRIVATE
                               MUXBENCH_FUZZ_CORPUS_DIR="${corpus}" MUXBENCH_FUZZ_SUITE=fuzz_${name})
  endif()
endfunction()
