#!/usr/bin/env bash
# usage: AZ_URL=http://host:8081 AZ_USER=u AZ_PASSWORD=p AZ_ZIP=project.zip azkaban-operator.sh
#
# Drives crawlctl's Azkaban-compatible web API the way Azkaban operators'
# scripts drive Azkaban, with curl and jq only: login, create a project,
# upload a zip, executeFlow with a flowOverride, poll fetchexecflow to
# SUCCEEDED, read fetchExecJobLogs, getRunning and cancelFlow on a long
# run, scheduleCronFlow with a Quartz expression, fetchSchedule and
# removeSched. The zip must hold a flow "hello" whose job "greet" echoes
# ${who}, and a flow "slow" that runs until cancelled. AZ_PROJECT names the
# project (default compat). Exits 0 and prints "ok" when every answer is
# what Azkaban would give.
set -euo pipefail

: "${AZ_URL:?set AZ_URL}" "${AZ_USER:?set AZ_USER}" "${AZ_PASSWORD:?set AZ_PASSWORD}" "${AZ_ZIP:?set AZ_ZIP}"
project="${AZ_PROJECT:-compat}"
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "azkaban-operator: $tool is not installed" >&2; exit 2; }
done

fail() { echo "azkaban-operator: $*" >&2; exit 1; }
step() { echo "== $*"; }

# expect JSON FILTER WHAT: the jq filter must be true of JSON.
expect() {
  jq -e "$2" >/dev/null <<<"$1" || fail "$3: unexpected answer: $1"
}

# poll_status EXECID STATUS: wait (up to 60s) for the execution's status.
poll_status() {
  local deadline=$((SECONDS + 60)) status=""
  while [ $SECONDS -lt $deadline ]; do
    status=$(curl -sS -G "$AZ_URL/executor" --data-urlencode ajax=fetchexecflow --data-urlencode execid="$1" \
      --data-urlencode session.id="$sid" | jq -r .status)
    [ "$status" = "$2" ] && return 0
    case "$status" in SUCCEEDED|FAILED|KILLED) fail "execution $1 ended $status, want $2" ;; esac
    sleep 0.2
  done
  fail "execution $1 is $status after 60s, want $2"
}

step login
login=$(curl -sS -X POST --data-urlencode action=login --data-urlencode username="$AZ_USER" \
  --data-urlencode password="$AZ_PASSWORD" "$AZ_URL/")
expect "$login" '.status == "success" and (."session.id" | type == "string")' login
sid=$(jq -r '."session.id"' <<<"$login")

step create
created=$(curl -sS -X POST "$AZ_URL/manager" --data-urlencode action=create --data-urlencode name="$project" \
  --data-urlencode description="compatibility test" --data-urlencode session.id="$sid")
expect "$created" '.status == "success" and .action == "redirect"' create

step upload
uploaded=$(curl -sS -X POST "$AZ_URL/manager" -F ajax=upload -F project="$project" -F session.id="$sid" \
  -F "file=@$AZ_ZIP;type=application/zip")
expect "$uploaded" '(.projectId | type == "string") and .version == "1"' upload
project_id=$(jq -r .projectId <<<"$uploaded")

step executeFlow
executed=$(curl -sS -G "$AZ_URL/executor" --data-urlencode ajax=executeFlow --data-urlencode project="$project" \
  --data-urlencode flow=hello --data-urlencode 'flowOverride[who]=operator script' --data-urlencode session.id="$sid")
expect "$executed" '(.execid | type == "number") and (.message | startswith("Execution queued successfully"))' executeFlow
execid=$(jq -r .execid <<<"$executed")
poll_status "$execid" SUCCEEDED

step fetchExecJobLogs
logs=$(curl -sS -G "$AZ_URL/executor" --data-urlencode ajax=fetchExecJobLogs --data-urlencode execid="$execid" \
  --data-urlencode jobId=greet --data-urlencode offset=0 --data-urlencode length=100000 --data-urlencode session.id="$sid")
expect "$logs" '(.data | contains("hello operator script")) and .offset == 0 and .length > 0' fetchExecJobLogs

step "getRunning and cancelFlow"
slow=$(curl -sS -G "$AZ_URL/executor" --data-urlencode ajax=executeFlow --data-urlencode project="$project" \
  --data-urlencode flow=slow --data-urlencode session.id="$sid")
slowid=$(jq -r .execid <<<"$slow")
poll_status "$slowid" RUNNING
running=$(curl -sS -G "$AZ_URL/executor" --data-urlencode ajax=getRunning --data-urlencode project="$project" \
  --data-urlencode flow=slow --data-urlencode session.id="$sid")
expect "$running" ".execIds == [$slowid]" getRunning
cancelled=$(curl -sS -G "$AZ_URL/executor" --data-urlencode ajax=cancelFlow --data-urlencode execid="$slowid" \
  --data-urlencode session.id="$sid")
expect "$cancelled" '. == {}' cancelFlow
poll_status "$slowid" KILLED

step scheduleCronFlow
scheduled=$(curl -sS -X POST "$AZ_URL/schedule" --data-urlencode ajax=scheduleCronFlow --data-urlencode projectName="$project" \
  --data-urlencode flow=hello --data-urlencode 'cronExpression=0 0/5 * ? * MON-FRI' --data-urlencode session.id="$sid")
expect "$scheduled" ".status == \"success\" and (.scheduleId | type == \"number\") and .message == \"$project.hello scheduled.\"" scheduleCronFlow
schedule_id=$(jq -r .scheduleId <<<"$scheduled")

step fetchSchedule
fetched=$(curl -sS -G "$AZ_URL/schedule" --data-urlencode ajax=fetchSchedule --data-urlencode projectId="$project_id" \
  --data-urlencode flowId=hello --data-urlencode session.id="$sid")
expect "$fetched" ".schedule.scheduleId == \"$schedule_id\" and .schedule.cronExpression == \"0 0/5 * ? * MON-FRI\"" fetchSchedule

step removeSched
removed=$(curl -sS -X POST "$AZ_URL/schedule" --data-urlencode action=removeSched --data-urlencode scheduleId="$schedule_id" \
  --data-urlencode session.id="$sid")
expect "$removed" '.status == "success" and .message == "flow hello removed from Schedules."' removeSched
gone=$(curl -sS -G "$AZ_URL/schedule" --data-urlencode ajax=fetchSchedule --data-urlencode projectId="$project_id" \
  --data-urlencode flowId=hello --data-urlencode session.id="$sid")
expect "$gone" '. == {}' "fetchSchedule after removeSched"

echo ok
