# A plan of JOBS jobs (cmake -P script): -DEXE=tollgate-estimate -DWORK=dir -DJOBS=n.
# Every job is {"model": "gen4_turbo", "seconds": 5} (25 credits); the plan's
# JSON total must be exact, and its schedule at tier 1 span ceil(jobs / 50) days. Then a catalog of JOBS empty models, refused at
# models[0] after a linear parse (parse_strict rescanned the array at the end
# of each object: quadratic).
file(MAKE_DIRECTORY "${WORK}")
string(REPEAT "{\"model\":\"gen4_turbo\",\"seconds\":5}," ${JOBS} jobs)
file(WRITE "${WORK}/plan.json" "{\"jobs\":[${jobs}{\"model\":\"gen4_turbo\",\"seconds\":5}]}")
set(jobs "")
execute_process(COMMAND "${EXE}" --plan "${WORK}/plan.json" --json
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
math(EXPR n "${JOBS} + 1")
math(EXPR credits "${n} * 25")
math(EXPR dollars "${credits} / 100")
math(EXPR cents "${credits} % 100")
math(EXPR days "(${n} + 49) / 50")  # the schedule at tier 1: 50 gen4_turbo jobs a day
if(cents LESS 10)
  set(cents "0${cents}")
endif()
if(NOT rc EQUAL 0 OR NOT out MATCHES "\"total_credits\":\"${credits}\",\"total_usd\":\"${dollars}.${cents}\",\"schedule\":{[^\n]*\"days\":${days},")
  string(LENGTH "${out}" len)
  message(FATAL_ERROR "plan of ${n} jobs: exit ${rc}, ${len} bytes of output, stderr: ${err}")
endif()
file(REMOVE "${WORK}/plan.json")

string(REPEAT "{}," ${JOBS} models)
file(WRITE "${WORK}/catalog.json" "{\"version\":1,\"models\":[${models}{}]}")
set(models "")
execute_process(COMMAND "${EXE}" --list --catalog "${WORK}/catalog.json"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "models\\[0\\]\\.id: is missing\n$")
  message(FATAL_ERROR "catalog of ${n} empty models: exit ${rc}, stderr: ${err}")
endif()
file(REMOVE "${WORK}/catalog.json")
message(STATUS "a plan of ${n} jobs and a catalog of ${n} models parsed")
