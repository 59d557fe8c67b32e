# Runs a tool (tollgate-estimate, tollgate-simulate) once and checks what it
# did (cmake -P script).
#   -DEXE=path              the program
#   -DARGS=a|b|c            its arguments, separated by '|'
#   -DEXIT=n                the expected exit status
#   -DSTDOUT_FILE=path      stdout must equal this file exactly
#   -DSTDOUT_REGEX=re       stdout must match
#   -DSTDERR_REGEX=re       stderr must match (failures only)
# A failure (EXIT != 0) must print nothing on stdout and exactly one line on
# stderr; a success must print nothing on stderr.
string(REPLACE "|" ";" _args "${ARGS}")
execute_process(COMMAND "${EXE}" ${_args}
  RESULT_VARIABLE _exit OUTPUT_VARIABLE _out ERROR_VARIABLE _err)

set(_problems "")
if(NOT "${_exit}" STREQUAL "${EXIT}")
  string(APPEND _problems "exit status ${_exit}, expected ${EXIT}\n")
endif()
if(DEFINED STDOUT_FILE)
  file(READ "${STDOUT_FILE}" _want)
  if(NOT "${_out}" STREQUAL "${_want}")
    string(APPEND _problems "stdout differs from ${STDOUT_FILE}:\n--- want\n${_want}--- got\n${_out}---\n")
  endif()
endif()
if(DEFINED STDOUT_REGEX AND NOT "${_out}" MATCHES "${STDOUT_REGEX}")
  string(APPEND _problems "stdout does not match '${STDOUT_REGEX}'\n")
endif()
if("${EXIT}" STREQUAL "0")
  if(NOT "${_err}" STREQUAL "")
    string(APPEND _problems "stderr is not empty\n")
  endif()
else()
  if(NOT "${_out}" STREQUAL "")
    string(APPEND _problems "stdout is not empty on failure\n")
  endif()
  string(REGEX MATCHALL "\n" _newlines "${_err}")
  list(LENGTH _newlines _lines)
  if(NOT _lines EQUAL 1 OR NOT "${_err}" MATCHES "\n$")
    string(APPEND _problems "stderr is not exactly one line\n")
  endif()
  if(DEFINED STDERR_REGEX AND NOT "${_err}" MATCHES "${STDERR_REGEX}")
    string(APPEND _problems "stderr does not match '${STDERR_REGEX}'\n")
  endif()
endif()

if(_problems)
  get_filename_component(_name "${EXE}" NAME)
  message(FATAL_ERROR "${_name} ${ARGS}\n${_problems}--- stdout\n${_out}--- stderr\n${_err}---")
endif()
