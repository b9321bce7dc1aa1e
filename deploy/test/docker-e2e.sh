#!/usr/bin/env bash
# Docker end-to-end test of deploy/docker-compose.yml: build the FROM-scratch
# image, start 3 masters + 2 workers, run a workload while the leader is
# killed, a follower paused and a master cut off the network, bring them
# back, then check that every acknowledged task completed once on every
# master and that the cluster converged. Cleans up even on failure.
# Usage: deploy/test/docker-e2e.sh   (needs docker, docker-compose, go, jq)
set -euo pipefail
cd "$(dirname "$0")/../.."

RUN_ID="e2e$$"
PROJECT="shepherd${RUN_ID}"
IMAGE="shepherd:${RUN_ID}"
NET="${PROJECT}_default"
WORK="$(mktemp -d)"
COMPOSE=(docker-compose -p "$PROJECT" -f deploy/docker-compose.yml)
MASTERS="m1:7101,m2:7101,m3:7101"
export SHEPHERD_IMAGE="$IMAGE" SHEPHERD_RAFT_PROFILE=fast
# Random host ports: the test talks to the masters from inside the network.
export SHEPHERD_M1_PORT=0 SHEPHERD_M2_PORT=0 SHEPHERD_M3_PORT=0

log() { printf '%s docker-e2e: %s\n' "$(date +%T)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

cleanup() {
	local rc=$?
	set +e
	if [ "$rc" -ne 0 ]; then
		log "logs of the failed run (tail):"
		"${COMPOSE[@]}" logs --no-color --tail 30 >&2 2>/dev/null
	fi
	for c in $("${COMPOSE[@]}" ps -q 2>/dev/null); do
		docker unpause "$c" >/dev/null 2>&1
		docker network connect "$NET" "$c" >/dev/null 2>&1
	done
	"${COMPOSE[@]}" down -v --remove-orphans --timeout 5 >/dev/null 2>&1
	docker ps -aq --filter "label=shepherd-e2e=$RUN_ID" | xargs -r docker rm -f >/dev/null 2>&1
	docker network rm "$NET" >/dev/null 2>&1
	docker rmi -f "$IMAGE" >/dev/null 2>&1
	rm -rf "$WORK"
	log "cleaned up (exit $rc)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cli runs the shepherd client inside the compose network.
cli() {
	docker run --rm --label "shepherd-e2e=$RUN_ID" --network "$NET" -e SHEPHERD_MASTERS="$MASTERS" "$IMAGE" "$@"
}

container() { "${COMPOSE[@]}" ps -q "$1"; }

# wait_for DESCRIPTION SECONDS COMMAND...: retry until COMMAND succeeds.
wait_for() {
	local what=$1 secs=$2 start=$SECONDS
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ $((SECONDS - start)) -lt "$secs" ] || fail "timed out after ${secs}s waiting for $what"
		sleep 1
	done
	log "$what ($((SECONDS - start))s)"
}

status_json() { cli cluster status --json --masters "${1:-$MASTERS}"; }
leader_id() { status_json "$@" | jq -er '.leader.id'; }
# healthy: every master knows the same leader and lists 3 voters.
healthy() {
	local m l first=""
	for m in m1 m2 m3; do
		l=$(status_json "$m:7101" | jq -er 'select((.servers | map(select(.suffrage == "voter")) | length) == 3) | .leader.id') || return 1
		[ -z "$first" ] && first=$l
		[ "$l" = "$first" ] || return 1
	done
}

ACKED="$WORK/acked"
: >"$ACKED"
# submit PREFIX N: submit N short sleep tasks (5 at a time), record their ids.
submit() {
	local prefix=$1 n=$2 i
	for i in $(seq 1 "$n"); do
		(cli submit --name sleep --payload '{"duration":"300ms"}' --idempotency-key "$prefix-$i" |
			jq -er '.id' >>"$ACKED" || log "submit $prefix-$i failed") &
		if [ $((i % 5)) -eq 0 ]; then wait; fi
	done
	wait
	log "submitted $prefix: $(wc -l <"$ACKED") acknowledged so far"
}

# completed_on MASTER: every acknowledged task is completed in its replica.
completed_on() {
	local done
	done=$(cli tasks list --masters "$1:7101" --status completed --limit 1000 --json | jq -r '.tasks[].id' | sort -n)
	comm -23 <(sort -n "$ACKED" | uniq) <(echo "$done") | grep -q . && return 1
	return 0
}

log "building a static binary and the image"
CGO_ENABLED=0 go build -o "$WORK/shepherd" ./cmd/shepherd
docker build -q -t "$IMAGE" -f deploy/Dockerfile "$WORK" >/dev/null

log "starting 3 masters and 2 workers"
"${COMPOSE[@]}" up -d --quiet-pull >/dev/null 2>&1 || "${COMPOSE[@]}" up -d
wait_for "cluster formed with a leader" 90 healthy
submit before 10

old=$(leader_id)
log "docker kill the leader ($old)"
docker kill "$(container "$old")" >/dev/null
wait_for "a new leader elected" 30 bash -c "id=\$(docker run --rm --network $NET -e SHEPHERD_MASTERS=$MASTERS $IMAGE cluster status --json | jq -er .leader.id) && [ \"\$id\" != $old ]"
submit during-kill 10
docker start "$(container "$old")" >/dev/null
wait_for "killed leader back" 60 healthy

leader=$(leader_id)
follower=m1
[ "$leader" != m1 ] || follower=m2
log "docker pause a follower ($follower)"
docker pause "$(container "$follower")" >/dev/null
submit during-pause 10
docker unpause "$(container "$follower")" >/dev/null
wait_for "paused follower caught up" 60 healthy

cut=$(leader_id)
log "disconnect the leader ($cut) from the network"
docker network disconnect "$NET" "$(container "$cut")"
submit during-partition 10
docker network connect --alias "$cut" "$NET" "$(container "$cut")"
wait_for "partitioned master rejoined" 90 healthy

want=$(sort -n "$ACKED" | uniq | wc -l)
[ "$want" -eq 40 ] || fail "only $want of 40 submissions were acknowledged"
for m in m1 m2 m3; do
	wait_for "all $want acknowledged tasks completed on $m" 90 completed_on "$m"
done
dups=$(sort -n "$ACKED" | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "$dups task ids acknowledged twice"
for m in m1 m2 m3; do
	n=$(cli tasks list --masters "$m:7101" --limit 1000 --json | jq '.tasks | length')
	[ "$n" -eq "$want" ] || fail "$m holds $n tasks, want $want"
	bad=$(cli tasks list --masters "$m:7101" --limit 1000 --json | jq '[.tasks[] | select(.status != "completed")] | length')
	[ "$bad" -eq 0 ] || fail "$m has $bad tasks not completed"
done
log "PASS: $want tasks survived kill, pause and partition; 3 masters converged"
