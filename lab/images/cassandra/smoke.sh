#!/usr/bin/env bash
# Smoke test of one Cassandra image: start one node, wait until cqlsh reads the expected
# release_version from system.local and `nodetool status` shows the node UN, then remove it.
# Usage: smoke.sh VERSION [DOCKER_CMD...]
#   DOCKER_CMD defaults to `docker`; e.g. `smoke.sh 3.9 docker exec corral-lab-host1 docker`
#   runs the node inside a lab host. IMAGE overrides the image (default corral/cassandra:VERSION),
#   SMOKE_TIMEOUT the wait in seconds (default 180).
# All checks run inside the node (docker exec); no port is published.
set -euo pipefail

(($# >= 1)) || { echo "usage: $0 VERSION [DOCKER_CMD...]" >&2; exit 2; }
version="$1"
shift
docker_cmd=("$@")
((${#docker_cmd[@]})) || docker_cmd=(docker)
image="${IMAGE:-corral/cassandra:$version}"
timeout="${SMOKE_TIMEOUT:-180}"
name="corral-imgtest-smoke-${version//[^A-Za-z0-9]/-}-$$"

log() { printf '\033[1m[smoke %s]\033[0m %s\n' "$version" "$*" >&2; }
dk() { "${docker_cmd[@]}" "$@"; }

fail() {
  log "FAILED: $*"
  log "last log lines of $name:"
  dk logs --tail 40 "$name" 2>&1 | sed 's/^/    /' >&2 || true
  exit 1
}

cleanup() { dk rm -f -v "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

start=$SECONDS
log "starting $name from $image"
dk run -d --name "$name" \
  -e MAX_HEAP_SIZE=512M -e HEAP_NEWSIZE=128M \
  -e JVM_EXTRA_OPTS="-Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=1000" \
  "$image" >/dev/null || fail "docker run failed"

# cqlsh first (a short Python run), then nodetool (a JVM start each time, slow on 2 cores).
cql_at="" cql_version=""
while ((SECONDS - start < timeout)); do
  [[ "$(dk inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" == true ]] \
    || fail "the container stopped (exit code $(dk inspect -f '{{.State.ExitCode}}' "$name" 2>/dev/null))"
  if [[ -z "$cql_at" ]]; then
    cql_version="$(dk exec "$name" cqlsh -e "SELECT release_version FROM system.local" 2>/dev/null \
      | awk 'found && NF { print $1; exit } /^-+$/ { found = 1 }')" || true
    if [[ -n "$cql_version" ]]; then
      [[ "$cql_version" == "$version" ]] || fail "cqlsh says release_version $cql_version, expected $version"
      cql_at=$((SECONDS - start))
      log "cqlsh: release_version $cql_version after $cql_at s"
    fi
  fi
  if [[ -n "$cql_at" ]] && dk exec "$name" nodetool status 2>/dev/null | grep -q '^UN '; then
    log "OK: CQL after $cql_at s, nodetool status UN after $((SECONDS - start)) s"
    exit 0
  fi
  sleep 2
done
[[ -n "$cql_at" ]] || fail "cqlsh did not answer within $timeout s"
fail "nodetool status did not show the node UN within $timeout s"
