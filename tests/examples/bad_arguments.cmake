# The bad-argument table of the command-line tools (cmake -P script):
#   cmake -DLEDGER=... -DESTIMATE=... -DSIMULATE=... -DMAKE_JOURNAL=... -DDATA=dir -DWORK=dir -P bad_arguments.cmake
# Every argument slot of every tollgate-ledger subcommand and every option of
# tollgate-estimate and tollgate-simulate gets each class of bad value its type can receive (octal,
# hex, signs, overflow, zero, empty, spaces, exponents, excess decimals,
# control bytes, non-UTF-8; NUL cannot ride in argv, so the NUL cases are in
# files: see the estimate rows). Each run must exit 2, print nothing on
# stdout and exactly one line on stderr, and leave every file of the work
# folder byte-for-byte as it was. The folder holds a journal with a torn tail,
# so a command that opened the journal for writing before refusing (which
# cuts the tail and writes FILE.torn-OFFSET) is caught.
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(J "${WORK}/ledger.journal")
execute_process(COMMAND "${MAKE_JOURNAL}" "${J}" torn RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not make the torn journal (${rc})")
endif()

# Bytes that are never UTF-8, and terminal control bytes.
string(ASCII 255 254 not_utf8)   # two bytes that are never UTF-8
string(ASCII 27 escape)          # ESC: a terminal control byte
string(ASCII 9 tab)

# Files that are not regular files, or are too large, or hold bad bytes. The
# FIFO lives outside the work folder (hashing it would block).
set(fifo "${WORK}.fifo/fifo")
file(REMOVE_RECURSE "${WORK}.fifo")
file(MAKE_DIRECTORY "${WORK}.fifo")
execute_process(COMMAND mkfifo "${fifo}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mkfifo failed (${rc})")
endif()
file(WRITE "${WORK}/nul-model.json" "{\"jobs\":[{\"model\":\"ab\\u0000cd\",\"seconds\":5}]}")
file(WRITE "${WORK}/nul-key.json" "{\"jobs\":[{\"model\":\"gen4_turbo\",\"sec\\u0000onds\":5}]}")
file(WRITE "${WORK}/not-utf8.json" "{\"jobs\":[{\"model\":\"gen4${not_utf8}\",\"seconds\":5}]}")
file(WRITE "${WORK}/fifo-text.json" "{\"jobs\":[{\"model\":\"eleven_multilingual_v2\",\"text_file\":\"${fifo}\"}]}")
file(WRITE "${WORK}/zero-text.json" "{\"jobs\":[{\"model\":\"eleven_multilingual_v2\",\"text_file\":\"/dev/zero\"}]}")
file(WRITE "${WORK}/empty-model.json" "{\"jobs\":[{\"model\":\"\",\"seconds\":5}]}")
file(WRITE "${WORK}/catalog-nul.json" "{\"version\":1,\"models\":[{\"id\":\"a\\u0000b\",\"kind\":\"vide\\u0000o\"}]}")
file(WRITE "${WORK}/tiers-nul.json" "{\"version\":1,\"groups\":[\"vi\\u0000deo\"],\"tiers\":[]}")
file(WRITE "${WORK}/tiers-video-only.json" "{\"version\":1,\"groups\":[\"video\"],\"tiers\":[{\"id\":1,\"name\":\"a\",\"max_spend_usd\":null,\"limits\":{\"video\":{\"max_concurrent\":1,\"max_daily\":1}}}]}")
file(WRITE "${WORK}/generation-nul.json" "{\"jobs\":[{\"model\":\"gen4_turbo\",\"seconds\":5}],\"generation_seconds\":{\"gen4\\u0000turbo\":5}}")
file(WRITE "${WORK}/generation-unknown.json" "{\"jobs\":[{\"model\":\"gen4_turbo\",\"seconds\":5}],\"generation_seconds\":{\"gen4${not_utf8}\":5}}")
file(WRITE "${WORK}/generation-zero.json" "{\"jobs\":[{\"model\":\"gen4_turbo\",\"seconds\":5}],\"generation_seconds\":{\"gen4_turbo\":0}}")
file(WRITE "${WORK}/generation-float.json" "{\"jobs\":[{\"model\":\"gen4_turbo\",\"seconds\":5}],\"generation_seconds\":{\"gen4_turbo\":1.5}}")
file(WRITE "${WORK}/generation-octal.json" "{\"jobs\":[{\"model\":\"gen4_turbo\",\"seconds\":5}],\"generation_seconds\":{\"gen4_turbo\":\"012\"}}")

# Scenarios (tollgate-simulate) that are refused: a NUL in a key, a model
# name that is not UTF-8, a floating-point amount, a percentage over 100.
set(minimal_scenario "\"version\":1,\"name\":\"m\",\"start\":\"2026-11-01\",\"days\":2")
file(WRITE "${WORK}/scenario-nul-key.json"
  "{${minimal_scenario},\"accounts\":[{\"id\":\"a\",\"work\\u0000load\":[]}]}")
file(WRITE "${WORK}/scenario-not-utf8.json"
  "{${minimal_scenario},\"accounts\":[{\"id\":\"a\",\"workload\":[{\"model\":\"gen4${not_utf8}\",\"seconds\":5,\"jobs_per_day\":1}]}]}")
file(WRITE "${WORK}/scenario-float-usd.json"
  "{${minimal_scenario},\"accounts\":[{\"id\":\"a\",\"purchases\":[{\"day\":1,\"usd\":40.5}],\"workload\":[]}]}")
file(WRITE "${WORK}/scenario-percent.json"
  "{${minimal_scenario},\"default_model\":{\"failure_percent\":\"100.5\"},\"accounts\":[{\"id\":\"a\",\"workload\":[]}]}")
file(WRITE "${WORK}/scenario-ok.json"
  "{${minimal_scenario},\"accounts\":[{\"id\":\"a\",\"workload\":[{\"model\":\"gen4_turbo\",\"seconds\":5,\"jobs_per_day\":1}]}]}")

# The names and SHA-256 of everything under the work folder.
function(folder_state out)
  file(GLOB_RECURSE files LIST_DIRECTORIES true "${WORK}/*")
  list(SORT files)
  set(state "")
  foreach(f IN LISTS files)
    if(IS_DIRECTORY "${f}")
      string(APPEND state "${f} dir\n")
    else()
      file(SHA256 "${f}" h)
      string(APPEND state "${f} ${h}\n")
    endif()
  endforeach()
  set(${out} "${state}" PARENT_SCOPE)
endfunction()
folder_state(initial)
file(REMOVE_RECURSE "${WORK}.pristine")
file(COPY "${WORK}/" DESTINATION "${WORK}.pristine")

set(failures 0)
set(runs 0)
# expect_bad(<command>): runs the program and arguments of the list exactly
# (an empty element is an empty argument; bracket arguments carry any byte).
function(expect_bad command)
  set(code "execute_process(COMMAND")
  foreach(a IN LISTS command)
    string(APPEND code " [==[${a}]==]")
  endforeach()
  string(APPEND code " INPUT_FILE /dev/null TIMEOUT 20 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)")
  cmake_language(EVAL CODE "${code}")
  set(problems "")
  if(NOT rc STREQUAL "2")
    string(APPEND problems " exit ${rc}, expected 2;")
  endif()
  if(NOT out STREQUAL "")
    string(APPEND problems " stdout not empty;")
  endif()
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines lines)
  if(NOT lines EQUAL 1 OR NOT err MATCHES "\n$")
    string(APPEND problems " stderr is ${lines} lines, expected one;")
  endif()
  folder_state(now)
  if(NOT now STREQUAL initial)
    string(APPEND problems " files changed;")
  endif()
  math(EXPR n "${runs} + 1")
  set(runs ${n} PARENT_SCOPE)
  if(problems)
    string(REPLACE ";" " " shown "${command}")
    message(SEND_ERROR "${shown}:${problems}\n  stdout: ${out}\n  stderr: ${err}")
    math(EXPR n "${failures} + 1")
    set(failures ${n} PARENT_SCOPE)
    if(NOT now STREQUAL initial)  # put it back for the next rows
      file(REMOVE_RECURSE "${WORK}")
      file(COPY "${WORK}.pristine/" DESTINATION "${WORK}")
    endif()
  endif()
endfunction()

# ---- the bad values of each kind of slot
string(REPEAT "9" 40 forty_nines)
string(REPEAT "k" 129 too_long_id)
set(common "" " " " 1" "1 " "${not_utf8}" "1${escape}" "1${tab}")
set(hold_values 012 0x1 0X1 0b1 -1 +1 -18446744073709551604 18446744073709551616 ${forty_nines}
  0 1.0 1e3 "1,000" "1_000" ${common})
set(amount_values 012 00.5 0x1 -1 +1 1e3 1E3 1.5e2 ${forty_nines} 0 0.0 1. .5 1.0000001 "1,5"
  inf nan ${common})
set(signed_amount_values 012 -012 0x1 -0x1 +1 --1 1e3 ${forty_nines} -${forty_nines} 0 -0 1. .5
  1.0000001 ${common})
set(usd_values 012 0x1 -1 +1 1e3 ${forty_nines} 0 0.00 1. 12.5000001 ${common})
set(duration_values 012 0x1 -1 +1 1e3 99999999999 1000000001 0 0.0 0.0000001 1. .5 ${common})
set(id_values "" "${not_utf8}" "a${tab}b" "a${escape}" "${too_long_id}")

# rows(<command> <kind> <row>...): each row after the command, with each
# bad value of the kind in its slot, '@'; ',' separates the row's arguments.
macro(rows command kind)
  foreach(row ${ARGN})
    string(REPLACE "," ";" row "${row}")
    foreach(v IN LISTS ${kind}_values)
      string(REPLACE "@" "${v}" r "${row}")
      expect_bad("${command};${r}")
    endforeach()
  endforeach()
endmacro()

# ---- tollgate-ledger: every slot of every subcommand.
set(ledger "${LEDGER};${J}")

rows("${ledger}" usd "purchase,acme,@,--key,k")
rows("${ledger}" amount "charge,acme,@,--key,k" "grant,acme,@,--key,k" "hold,acme,@,--key,k")
# A capture may take zero credits (it releases the whole hold).
set(capture_amount_values ${amount_values})
list(REMOVE_ITEM capture_amount_values 0 0.0)
rows("${ledger}" capture_amount "capture,1,@,--key,k")
rows("${ledger}" signed_amount "adjust,acme,@,--key,k,--reason,r")
rows("${ledger}" hold "capture,@,1,--key,k" "release,@,--key,k")
rows("${ledger}" duration "grant,acme,1,--key,k,--expires-in,@" "hold,acme,1,--key,k,--timeout,@")
rows("${ledger}" id "purchase,@,1,--key,k" "charge,@,1,--key,k" "grant,@,1,--key,k" "hold,@,1,--key,k"
  "adjust,@,1,--key,k,--reason,r" "balance,@" "statement,@"
  "purchase,acme,1,--key,@" "charge,acme,1,--key,@" "grant,acme,1,--key,@" "hold,acme,1,--key,@"
  "capture,1,1,--key,@" "release,1,--key,@" "adjust,acme,1,--key,@,--reason,r")
# The reason: empty, or a control byte (the ledger stores only printable text).
set(reason_values "" "a${escape}b" "a${tab}b")
rows("${ledger}" reason "adjust,acme,1,--key,k,--reason,@")
# The command line itself: missing, extra and unknown arguments and options.
foreach(row "" "frobnicate" "verify,extra" "snapshot,extra" "balance" "balance,acme,extra"
    "charge,acme,1" "charge,acme,--key,k" "release,--key,k" "capture,1,--key,k"
    "adjust,acme,1,--key,k" "balance,acme,--bogus" "--durability,bogus,balance,acme"
    "--durability,,balance,acme" "charge,acme,1,--key,k,--key,k2")
  string(REPLACE "," ";" r "${row}")
  expect_bad("${ledger};${r}")
endforeach()

# ---- tollgate-estimate: every option. It writes nothing, but the folder is
# still checked.
set(media_seconds_values 012 0x1 -1 +1 1e3 ${forty_nines} 1. .5 1.0001 inf ${common})
rows("${ESTIMATE}" media_seconds "gen4_turbo,--seconds,@")
set(outputs_values 012 0x1 -1 +1 1e3 ${forty_nines} 1.0 ${common})
rows("${ESTIMATE}" outputs "gen4_image,--resolution,720p,--outputs,@")
set(file_values "" /dev/zero /dev/null /dev/stdin "${fifo}" "${WORK}" "${WORK}/no-such-file"
  "${not_utf8}")
rows("${ESTIMATE}" file "eleven_multilingual_v2,--text-file,@" "--plan,@" "gen4_turbo,--seconds,5,--catalog,@"
  "--plan,data/sample-plan.json,--tiers,@")
set(plan_values "${WORK}/empty-model.json" "${WORK}/nul-model.json" "${WORK}/nul-key.json" "${WORK}/not-utf8.json"
  "${WORK}/fifo-text.json" "${WORK}/zero-text.json" "${DATA}/plan-nul-byte.json" "${WORK}/generation-nul.json"
  "${WORK}/generation-unknown.json" "${WORK}/generation-zero.json" "${WORK}/generation-float.json"
  "${WORK}/generation-octal.json")
rows("${ESTIMATE}" plan "--plan,@")
set(catalog_values "${WORK}/catalog-nul.json" "${WORK}/not-utf8.json")
rows("${ESTIMATE}" catalog "gen4_turbo,--seconds,5,--catalog,@")
# The budget planner's options: a tier id (and one the table lacks), a tier
# table file that is refused or lacks a group the plan's models are in.
set(tier_values 012 0x1 -1 +1 1e3 ${forty_nines} 0 1.0 4294967296 6 ${common})
rows("${ESTIMATE}" tier "--plan,data/sample-plan.json,--tier,@" "--plan,data/sample-plan.json,--compare,--tier,@")
set(tiers_values "${WORK}/tiers-nul.json" "${WORK}/tiers-video-only.json" "${WORK}/not-utf8.json" data/sample-plan.json)
rows("${ESTIMATE}" tiers "--plan,data/sample-plan.json,--tiers,@")
set(model_values "" "${not_utf8}" "gen4${escape}" "gen4${tab}turbo")
rows("${ESTIMATE}" model "@,--seconds,5")
foreach(row "gen4_turbo,--seconds" "gen4_turbo,--bogus" "--list,--plan,x" "gen4_turbo,--seconds,5,--json,extra"
    "gen4_turbo,--seconds,5,--tier,2" "gen4_turbo,--seconds,5,--compare" "--list,--tiers,data/runway-tiers.json"
    "--plan,data/sample-plan.json,--tier" "--plan,data/sample-plan.json,--tiers" "--compare" "--tier,1")
  string(REPLACE "," ";" r "${row}")
  expect_bad("${ESTIMATE};${r}")
endforeach()

# ---- tollgate-simulate: the scenario file, its contents, the chart's file,
# the command line. A refused --svg is refused before the simulation runs,
# and no chart is written.
rows("${SIMULATE}" file "@" "@,--json" "@,--svg,${WORK}/chart.svg")
set(scenario_values "${WORK}/scenario-nul-key.json" "${WORK}/scenario-not-utf8.json" "${WORK}/scenario-float-usd.json"
  "${WORK}/scenario-percent.json" "${WORK}/not-utf8.json" "${DATA}/plan-nul-byte.json" data/sample-plan.json)
rows("${SIMULATE}" scenario "@" "@,--svg,${WORK}/chart.svg")
set(svg_values "" /dev/null /dev/zero "${fifo}" "${WORK}" "${WORK}/no-such-folder/chart.svg" "${not_utf8}/chart.svg"
  "${WORK}/scenario-ok.json")
rows("${SIMULATE}" svg "${WORK}/scenario-ok.json,--svg,@" "${WORK}/scenario-ok.json,--json,--svg,@")
foreach(row "" "--json" "--svg,${WORK}/chart.svg" "${WORK}/scenario-ok.json,--svg" "${WORK}/scenario-ok.json,--bogus"
    "${WORK}/scenario-ok.json,${WORK}/scenario-ok.json" "${WORK}/scenario-ok.json,--svg,${WORK}/a.svg,--svg,${WORK}/b.svg"
)
  string(REPLACE "," ";" r "${row}")
  expect_bad("${SIMULATE};${r}")
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} of ${runs} bad-argument runs misbehaved")
endif()
message(STATUS "${runs} bad-argument runs: each exit 2, one line, nothing changed")
