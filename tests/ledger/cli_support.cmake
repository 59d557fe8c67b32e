# Helpers of the tollgate-ledger command-line tests (cli_test.cmake,
# cli_journal_test.cmake), included with include(): each script sets CLI and
# `failures` (0) first, and fails at the end when `failures` is not 0.

# run(<expected exit code> <name> args...): runs the CLI, sets OUT and ERR.
# Each argument is passed exactly: an empty one too (an unquoted ${ARGN}
# would drop it), through bracket arguments. A command that does not end
# within a minute (a FIFO waited on) fails instead of hanging the tests.
function(run expected name)
  set(code "execute_process(COMMAND [==[${CLI}]==]")
  foreach(a IN LISTS ARGN)
    string(APPEND code " [==[${a}]==]")
  endforeach()
  cmake_language(EVAL CODE "${code} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)")
  set(OUT "${out}" PARENT_SCOPE)
  set(ERR "${err}" PARENT_SCOPE)
  if(NOT rc STREQUAL "${expected}")
    message(SEND_ERROR "${name}: expected exit ${expected}, got ${rc}\n  args: ${ARGN}\n  stdout: ${out}\n  stderr: ${err}")
    math(EXPR f "${failures} + 1")
    set(failures ${f} PARENT_SCOPE)
  endif()
endfunction()

# expect(name text condition...): fails with `text` unless the condition holds.
function(expect name condition_text)
  if(NOT (${ARGN}))
    message(SEND_ERROR "${name}: ${condition_text}")
    math(EXPR f "${failures} + 1")
    set(failures ${f} PARENT_SCOPE)
  endif()
endfunction()

function(json_field out json)
  string(JSON value ERROR_VARIABLE e GET "${json}" ${ARGN})
  if(e)
    message(SEND_ERROR "JSON key ${ARGN} missing in: ${json} (${e})")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

function(check_unchanged name file hash_before)
  if(EXISTS "${file}")
    file(SHA256 "${file}" after)
  else()
    set(after "absent")
  endif()
  if(NOT after STREQUAL hash_before)
    message(SEND_ERROR "${name}: the journal changed on bad input")
  endif()
endfunction()
