#!/usr/bin/env bash
# Measures, in one run on the lab (after ./dev up), with the same image:
#   1. one node's start to CQL and UN (lab/images/cassandra/smoke.sh on a lab host),
#   2. a fresh three-node cluster to all UN and answering CQL (the stack stage of site.yml, from no stack),
#   3. a no-change re-run of site.yml.
# Targets: (2) within 2x (1); (3) within 30 s. It removes the lab's stack and deploys it again.
# Where the time goes: the slowest tasks of (2) and (3) (ansible.posix.profile_tasks), full logs in .cache/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH" ANSIBLE_CONFIG="$ROOT/ansible.cfg"
version="${1:-$(awk -F': ' '/^cassandra_stack_version:/ {gsub(/"/, "", $2); print $2}' inventories/lab/group_vars/all.yml)}"
log="$ROOT/.cache/bench-stack"
: > "$log.log"

seconds() {
  local name=$1 start=$SECONDS
  shift
  "$@" >"$log-$name.log" 2>&1 || { echo "failed: $*; see $log-$name.log" >&2; exit 1; }
  echo $(( SECONDS - start ))
}
# The slowest tasks of a run, as profile_tasks summed them up at its end.
slowest() {
  echo "slowest tasks of $1:"
  awk '/^====================/ { on = 1; next } on && NF' "$log-$1.log" | head -n "${2:-12}" | sed 's/^/  /'
}

ansible-playbook molecule/shared/reset-stack.yml >>"$log.log" 2>&1
one=$(seconds one env IMAGE="172.30.42.1:5000/corral/cassandra:$version" bash lab/images/cassandra/smoke.sh "$version" docker exec corral-lab-host2 docker)
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=40
three=$(seconds three ansible-playbook playbooks/stack.yml -e "cassandra_stack_version=$version")
rerun=$(seconds rerun ansible-playbook site.yml -e "cassandra_stack_version=$version")
printf 'image %s\n' "$version"
printf 'one node, start to CQL and UN:              %4d s\n' "$one"
printf 'fresh 3-node cluster (stack stage, all UN): %4d s   ratio to one node: %.2f (target <= 2)\n' "$three" "$(awk -v a="$three" -v b="$one" 'BEGIN { print a / b }')"
# The cluster alone, like one node's figure: from the first node container's start to the end of the
# last readiness wait (profile_tasks stamps each task's start to the second; the wait polls, so up to one
# poll interval late). The rest of the stack stage is Ansible before the start and securing after it.
ready=$(awk '/^TASK \[/ { if (waiting) { want = 1 } waiting = ($0 ~ /Wait: .*one schema/); next }
  want && /[0-9][0-9]:[0-9][0-9]:[0-9][0-9] [+-][0-9][0-9][0-9][0-9]/ { stamp = $2 " " $3 " " $4 " " $5 " " $6; want = 0 }
  END { print stamp }' "$log-three.log")
first_start=$(for n in 1 2 3; do docker exec "corral-lab-host$n" docker inspect -f '{{.State.StartedAt}}' "cdb$n"; done \
  | xargs -I{} date -d {} +%s.%N | sort -n | head -n 1)
cluster=$(awk -v a="$(date -d "$ready" +%s)" -v b="$first_start" 'BEGIN { printf "%.0f", a - b }')
printf '  of which the cluster, first node start to all UN and CQL: %4d s   ratio to one node: %.2f\n' "$cluster" \
  "$(awk -v a="$cluster" -v b="$one" 'BEGIN { print a / b }')"
printf 'no-change re-run of site.yml:               %4d s   (target <= 30)\n' "$rerun"
# CPU seconds each Cassandra JVM has used since its start (one JVM start is CPU-bound on these 2 cores).
echo "CPU time of each node's JVM (cputime, seconds since start):"
for host in corral-lab-host1 corral-lab-host2 corral-lab-host3; do
  docker exec "$host" sh -c 'for c in $(docker ps -q --filter label=io.corral.stack); do
    printf "  %s: " "$(docker inspect -f "{{.Name}}" "$c" | tr -d /)"; docker exec "$c" ps -o cputime=,etimes= -C java | head -n 1; done' || true
done
slowest three
slowest rerun
