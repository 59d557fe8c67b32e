# Runs tollgate-simulate twice on one scenario and checks that both runs give
# the same bytes: stdout and the --svg chart (cmake -P script).
#   -DEXE=path        the program
#   -DSCENARIO=path   the scenario file
#   -DWORK=dir        where the two charts go
#   -DJSON=ON|OFF     with --json
# Each run must exit 0 with nothing on stderr; the chart must be an SVG
# document.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(_flags "")
if(JSON)
  set(_flags --json)
endif()
foreach(_run 1 2)
  execute_process(COMMAND "${EXE}" "${SCENARIO}" ${_flags} --svg "${WORK}/chart-${_run}.svg"
    RESULT_VARIABLE _exit OUTPUT_VARIABLE _out_${_run} ERROR_VARIABLE _err)
  if(NOT _exit EQUAL 0 OR NOT _err STREQUAL "")
    message(FATAL_ERROR "run ${_run}: exit ${_exit}\n--- stderr\n${_err}---")
  endif()
  file(READ "${WORK}/chart-${_run}.svg" _svg_${_run})
endforeach()
if(NOT _out_1 STREQUAL _out_2)
  message(FATAL_ERROR "the two runs printed different reports:\n--- first\n${_out_1}--- second\n${_out_2}---")
endif()
if(NOT _svg_1 STREQUAL _svg_2)
  message(FATAL_ERROR "the two runs drew different charts (${WORK}/chart-1.svg, chart-2.svg)")
endif()
if(NOT _svg_1 MATCHES "^<\\?xml version=\"1.0\" encoding=\"UTF-8\"\\?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"")
  message(FATAL_ERROR "the chart is not an SVG document")
endif()
string(LENGTH "${_out_1}" _bytes)
message(STATUS "two runs, the same ${_bytes} bytes of report and the same chart")
