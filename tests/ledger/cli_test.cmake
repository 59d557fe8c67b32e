# Tests of the tollgate-ledger command-line tool, run by ctest:
#   cmake -DCLI=... -DMAKE_JOURNAL=... -DWORK=dir -P cli_test.cmake
# Checks exit codes (0 ok, 1 refused or damaged, 2 bad input), the JSON keys
# and exact decimal strings of `balance --json`, that bad input writes nothing
# (not even a new journal file), and that `verify` names the damaged offset.
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(J "${WORK}/ledger.journal")
set(failures 0)

include("${CMAKE_CURRENT_LIST_DIR}/cli_support.cmake")

# ---- bad input on a journal that does not exist yet: nothing is created
foreach(args
    "purchase;acme;12.x;--key;k"         # malformed dollars
    "purchase;acme;-5;--key;k"           # negative
    "purchase;acme;0;--key;k"            # zero
    "purchase;acme;1.0000001;--key;k"    # too many decimals
    "charge;acme;5"                      # no --key
    "frobnicate;acme"                    # no such command
    "balance;acme"                       # reading a journal that is not there
    "verify")
  run(2 "bad input (${args})" "${J}" ${args})
  expect("bad input (${args})" "created the journal" NOT EXISTS "${J}")
endforeach()

# Bad input that only the ledger can see (the command line parses): still
# nothing created.
string(REPEAT "x" 1025 long_reason)
run(2 "purchase that overflows" "${J}" purchase acme 10000000000000000000000000000000 --key k)
run(2 "grant that overflows" "${J}" grant acme 100000000000000000000000000000000 --key k)
run(2 "reason too long" "${J}" adjust acme 5 --key k --reason "${long_reason}")
expect("bad input the ledger refuses" "created the journal" NOT EXISTS "${J}")
# A refusal on a journal that does not exist yet creates none either.
run(1 "charge on nothing" "${J}" charge acme 5 --key k)
expect("charge on nothing" "created the journal" NOT EXISTS "${J}")

run(2 "empty account" "${J}" charge "" 5 --key k)
run(2 "empty key" "${J}" charge acme 5 --key "")
expect("empty arguments" "created the journal" NOT EXISTS "${J}")

# ---- a purchase, its retry, a charge
run(0 "purchase" "${J}" purchase acme 10 --key p1)
run(0 "purchase retry" "${J}" purchase acme 10 --key p1 --json)
json_field(replayed "${OUT}" replayed)
expect("purchase retry" "not replayed: ${OUT}" replayed STREQUAL "ON" OR replayed STREQUAL "true")
run(0 "charge" "${J}" charge acme 12.5 --key c1)
run(0 "grant" "${J}" grant acme 0.000001 --key g1 --expires-in 3600)

# ---- balance --json: the keys and exact decimal strings
run(0 "balance" "${J}" balance acme --json)
json_field(account "${OUT}" account)
json_field(available "${OUT}" available)
json_field(held "${OUT}" held)
json_field(purchased_usd "${OUT}" purchased_usd)
string(JSON available_type TYPE "${OUT}" available)
expect("balance" "account is '${account}'" account STREQUAL "acme")
expect("balance" "available is '${available}'" available STREQUAL "987.500001")
expect("balance" "available is not a string" available_type STREQUAL "STRING")
expect("balance" "held is '${held}'" held STREQUAL "0")
expect("balance" "purchased_usd is '${purchased_usd}'" purchased_usd STREQUAL "10.00")

# ---- refusals and bad input on an existing journal change nothing
file(SHA256 "${J}" before)
run(1 "insufficient credits" "${J}" charge acme 5000 --key c2)
expect("insufficient credits" "message: ${ERR}" ERR MATCHES "has 987.500001 credits available")
run(1 "idempotency conflict" "${J}" charge acme 13 --key c1)
run(1 "unknown hold" "${J}" capture 99 1 --key cap)
run(2 "bad amount" "${J}" charge acme 1e3 --key c3)
run(2 "bad account" "${J}" charge "tab	in" 1 --key c4)
run(2 "negative capture" "${J}" capture 1 -1 --key c5)
run(2 "adjust without a reason" "${J}" adjust acme 5 --key a1)
check_unchanged("refusals" "${J}" "${before}")

# ---- holds, statement, verify
run(0 "hold" "${J}" hold acme 20 --key h1 --timeout 60 --json)
json_field(hold "${OUT}" hold)
run(0 "capture" "${J}" capture ${hold} 5 --key cap1 --json)
json_field(released "${OUT}" released)
expect("capture" "released '${released}'" released STREQUAL "15")
run(0 "adjust" "${J}" adjust acme -2.5 --key a2 --reason "ticket 7")
run(0 "statement" "${J}" statement acme --json)
string(JSON entries LENGTH "${OUT}" entries)
expect("statement" "${entries} entries" entries EQUAL 7)
run(0 "verify" "${J}" verify --json)
json_field(ok "${OUT}" ok)
json_field(records "${OUT}" records)
expect("verify" "not ok: ${OUT}" ok)
expect("verify" "records ${records}" records EQUAL 6)
run(0 "snapshot" "${J}" snapshot)
run(0 "verify with a snapshot" "${J}" verify)
expect("verify with a snapshot" "output: ${OUT}" OUT MATCHES "snapshot: agrees")

# ---- damaged and torn journals
execute_process(COMMAND "${MAKE_JOURNAL}" "${WORK}/damaged.journal" damaged OUTPUT_VARIABLE offset
  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
expect("make damaged journal" "failed" rc EQUAL 0)
run(1 "verify damaged" "${WORK}/damaged.journal" verify)
expect("verify damaged" "no offset ${offset} in: ${ERR}" ERR MATCHES "damaged at offset ${offset}")
run(1 "balance on a damaged journal" "${WORK}/damaged.journal" balance acme)

execute_process(COMMAND "${MAKE_JOURNAL}" "${WORK}/torn.journal" torn OUTPUT_VARIABLE offset
  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
expect("make torn journal" "failed" rc EQUAL 0)
run(0 "verify torn" "${WORK}/torn.journal" verify --json)
json_field(torn "${OUT}" torn_tail)
json_field(torn_offset "${OUT}" torn_offset)
expect("verify torn" "torn_tail ${torn}" torn)
expect("verify torn" "torn_offset ${torn_offset}" torn_offset EQUAL offset)
expect("verify torn" "verify wrote a copy of the torn tail" NOT EXISTS "${WORK}/torn.journal.torn-${offset}")
# A write cuts the torn tail, keeps its bytes beside the journal and says where.
run(0 "charge on a torn journal" "${WORK}/torn.journal" charge acme 1 --key after-torn)
expect("charge on a torn journal" "no copy of the torn tail" EXISTS "${WORK}/torn.journal.torn-${offset}")
expect("charge on a torn journal" "no note in: ${ERR}" ERR MATCHES "copied to '.*torn.journal.torn-${offset}'")
run(0 "verify after the cut" "${WORK}/torn.journal" verify --json)
json_field(torn "${OUT}" torn_tail)
expect("verify after the cut" "torn_tail ${torn}" NOT torn)
file(WRITE "${WORK}/text.journal" "this is not a journal, just some text that is long enough to matter\n")
run(1 "verify not a journal" "${WORK}/text.journal" verify)

# ---- argument errors: one line (CLI11 added "Run with --help ..."), and the
# hold ids CLI11 parsed loosely
run(2 "no subcommand" "${J}")
expect("no subcommand" "not one line: ${ERR}" ERR MATCHES "^tollgate-ledger: [^\n]* \\(see --help\\)\n$")
run(2 "unknown subcommand" "${J}" frobnicate)
expect("unknown subcommand" "not one line: ${ERR}" ERR MATCHES "^tollgate-ledger: [^\n]* \\(see --help\\)\n$")
foreach(pair "012|has a leading zero" "0x1|has a character that is not a decimal digit"
    "-18446744073709551604|must not be negative" "18446744073709551616|is too large"
    "0|is too small")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 id)
  list(GET pair 1 why)
  run(2 "release ${id}" "${J}" release ${id} --key r-${id})
  expect("release ${id}" "message: ${ERR}" ERR MATCHES "^tollgate-ledger: hold id '${id}' ${why}[^\n]*expected a whole number from 1 to 18446744073709551615\n$")
endforeach()
run(2 "release ''" "${J}" release "" --key r)
expect("release ''" "message: ${ERR}" ERR MATCHES "hold id '' is empty")
run(2 "--timeout ''" "${J}" hold acme 1 --key h-empty --timeout "")
expect("--timeout ''" "message: ${ERR}" ERR MATCHES "--timeout '' is empty")

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} tollgate-ledger command(s) gave the wrong exit code")
endif()
message(STATUS "tollgate-ledger command-line tests passed")
