# Tests of tollgate-ledger on journals in the states recovery deals with, run
# by ctest:
#   cmake -DCLI=... -DMAKE_JOURNAL=... -DWORK=dir -P cli_journal_test.cmake
# A request refused as bad input leaves every file as it was, even on a journal
# with a torn tail (which opening for writing would cut); the rest of the
# command-line tests are in cli_test.cmake.
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(failures 0)

include("${CMAKE_CURRENT_LIST_DIR}/cli_support.cmake")

# The SHA-256 of every file in WORK, one "name hash" line each.
function(snapshot_dir out)
  file(GLOB names RELATIVE "${WORK}" "${WORK}/*")
  list(SORT names)
  set(s "")
  foreach(n ${names})
    file(SHA256 "${WORK}/${n}" h)
    string(APPEND s "${n} ${h}\n")
  endforeach()
  set(${out} "${s}" PARENT_SCOPE)
endfunction()

# ---- bad input on a journal with a torn tail touches nothing
execute_process(COMMAND "${MAKE_JOURNAL}" "${WORK}/torn.journal" torn OUTPUT_VARIABLE offset
  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
expect("make torn journal" "failed" rc EQUAL 0)
set(T "${WORK}/torn.journal")
snapshot_dir(before)
run(2 "grant beyond the issue limit" "${T}" grant acme 21267647932558653966460912964485.513217 --key g)
expect("grant beyond the issue limit" "message: ${ERR}" ERR MATCHES "21267647932558653966460912964485.513216 credits")
run(2 "purchase beyond the purchase limit" "${T}" purchase acme 170141183460469231731687303.715885 --key p)
run(2 "charge beyond any balance" "${T}" charge acme 21267647932558653966460912964485.513217 --key c)
string(ASCII 255 254 not_utf8)
string(ASCII 194 133 nel)  # U+0085, a C1 control
run(2 "reason that is not UTF-8" "${T}" adjust acme 1 --key a --reason "${not_utf8}")
run(2 "reason with a C1 control" "${T}" adjust acme 1 --key a --reason "next${nel}line")
run(2 "hold timeout of zero" "${T}" hold acme 1 --key h --timeout 0.0000001)
snapshot_dir(after)
expect("bad input on a torn journal" "files changed:\nbefore:\n${before}after:\n${after}" before STREQUAL after)

# ---- the last write read back as zeros: a torn tail that left no bytes
execute_process(COMMAND "${MAKE_JOURNAL}" "${WORK}/lost.journal" lost OUTPUT_VARIABLE lost_at
  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
expect("make lost journal" "failed" rc EQUAL 0)
run(0 "verify a lost last write" "${WORK}/lost.journal" verify)
expect("verify a lost last write" "output: ${OUT}" OUT MATCHES "the last write \\(records 1200 to 1200, offsets ${lost_at} to")
run(0 "write after a lost last write" "${WORK}/lost.journal" charge acme 1 --key after-lost)
run(0 "verify after that write" "${WORK}/lost.journal" verify --json)
expect("verify after that write" "torn tail left: ${OUT}" OUT MATCHES "\"torn_tail\":false")

# ---- an identical retry of a grant with --expires-in replays (the expiry is
# relative to the operation, not computed from the clock on each run)
set(G "${WORK}/grant.journal")
run(0 "grant" "${G}" grant acme 5 --key g --expires-in 1000)
execute_process(COMMAND "${CMAKE_COMMAND}" -E sleep 1.1)
run(0 "the same grant again" "${G}" grant acme 5 --key g --expires-in 1000 --json)
expect("the same grant again" "not replayed: ${OUT}" OUT MATCHES "\"replayed\":true")
run(1 "the same key, another expiry" "${G}" grant acme 5 --key g --expires-in 999)

# ---- the issue's sequence: a snapshot of another history is not used, so a
# journal restored from a backup is not charged twice
set(R "${WORK}/restore.journal")
run(0 "purchase" "${R}" purchase acme 10 --key p1)
file(COPY_FILE "${R}" "${R}.bak")
run(0 "charge A1" "${R}" charge acme 1 --key A1)
run(0 "snapshot" "${R}" snapshot)
file(COPY_FILE "${R}.bak" "${R}")  # restore last night's backup
run(0 "charge B1" "${R}" charge acme 9 --key B1)
run(0 "balance after the restore" "${R}" balance acme --json)
expect("balance after the restore" "not 991: ${OUT}" OUT MATCHES "\"available\":\"991\"")
run(0 "retry of B1" "${R}" charge acme 9 --key B1 --json)
expect("retry of B1" "not replayed: ${OUT}" OUT MATCHES "\"replayed\":true")
run(0 "verify after the retry" "${R}" verify)
expect("verify after the retry" "snapshot used: ${OUT}" OUT MATCHES "snapshot: ignored")
run(0 "balance after the retry" "${R}" balance acme --json)
expect("balance after the retry" "not 991: ${OUT}" OUT MATCHES "\"available\":\"991\"")

# ---- a journal cut short inside an earlier record is refused, then repaired
set(C "${WORK}/cut.journal")
run(0 "purchase" "${C}" purchase acme 10 --key p)
foreach(i RANGE 1 9)
  run(0 "charge ${i}" "${C}" charge acme 1 --key c${i})
endforeach()
set(W "${WORK}/w.journal")
execute_process(COMMAND head -c 4700 "${C}" OUTPUT_FILE "${W}" RESULT_VARIABLE rc)
expect("head -c" "failed" rc EQUAL 0)
file(SHA256 "${W}" cut_before)
run(1 "verify a journal cut short" "${W}" verify)
expect("verify a journal cut short" "message: ${ERR}" ERR MATCHES "missing acknowledged records")
run(1 "write to a journal cut short" "${W}" charge acme 1 --key new)
file(SHA256 "${W}" cut_after)
expect("refused journal" "it changed" cut_before STREQUAL cut_after)
string(REGEX MATCH "repair --truncate-at ([0-9]+)" advice "${ERR}")
set(at "${CMAKE_MATCH_1}")
expect("refusal" "no repair offset in: ${ERR}" at MATCHES "^[0-9]+$")
run(2 "repair inside a record" "${W}" repair --truncate-at 4100)
run(2 "repair at a bad offset" "${W}" repair --truncate-at 0x1000)
run(0 "repair" "${W}" repair --truncate-at ${at})
expect("repair" "no copy named: ${OUT}" EXISTS "${W}.cut-${at}")
run(0 "verify after the repair" "${W}" verify --json)
expect("verify after the repair" "not ok: ${OUT}" OUT MATCHES "\"ok\":true")
run(0 "write after the repair" "${W}" charge acme 1 --key new)

# ---- a FIFO is refused at once, never waited on
execute_process(COMMAND mkfifo "${WORK}/fifo" RESULT_VARIABLE rc)
expect("mkfifo" "failed" rc EQUAL 0)
foreach(args "balance;acme" "verify" "charge;acme;1;--key;k" "snapshot")
  execute_process(COMMAND "${CLI}" "${WORK}/fifo" ${args} TIMEOUT 20
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  expect("FIFO (${args})" "exit ${rc}: ${err}" rc MATCHES "^[12]$")
  expect("FIFO (${args})" "message: ${err}" err MATCHES "not a regular file")
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} tollgate-ledger journal check(s) failed")
endif()
message(STATUS "tollgate-ledger journal tests passed")
