# Run by ctest (TEST_INCLUDE_FILES, see CMakeLists.txt): adds tutorial_client_<mechanism> for
# every mechanism a server lists, so that a new mechanism gets its test without a line here.
# Set by the including file: MUXBENCH_BIN, MUXBENCH_PYTHON, TUTORIAL_TEST.
execute_process(COMMAND ${MUXBENCH_BIN}/chat-poll --list-mechanisms
  OUTPUT_VARIABLE _json RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  # Fails visibly instead of silently running no tutorial test.
  add_test(tutorial_client_list ${CMAKE_COMMAND} -E echo
    "${MUXBENCH_BIN}/chat-poll --list-mechanisms failed (${_rc}): ${_err}; build the servers first")
  set_tests_properties(tutorial_client_list PROPERTIES WILL_FAIL TRUE)
  return()
endif()
string(JSON _count LENGTH "${_json}")
math(EXPR _last "${_count} - 1")
foreach(_i RANGE ${_last})
  string(JSON _name GET "${_json}" ${_i} name)
  string(JSON _binary GET "${_json}" ${_i} binary)
  string(JSON _nargs LENGTH "${_json}" ${_i} args)
  set(_args "")
  if(_nargs GREATER 0)
    math(EXPR _alast "${_nargs} - 1")
    foreach(_j RANGE ${_alast})
      string(JSON _arg GET "${_json}" ${_i} args ${_j})
      list(APPEND _args ${_arg})
    endforeach()
  endif()
  string(REPLACE "-" "_" _label "${_name}")
  if(NOT EXISTS ${MUXBENCH_BIN}/${_binary})
    continue()  # an optional binary this build lacks
  endif()
  add_test(tutorial_client_${_label} ${MUXBENCH_PYTHON} ${TUTORIAL_TEST}
    ${MUXBENCH_BIN}/${_binary} ${_args})
  # 77: the server exited as unavailable here (io_uring refused), see tutorial_client_test.py.
  set_tests_properties(tutorial_client_${_label} PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
endforeach()
