#!/usr/bin/env bash
# Soak of the first command's hard part: N fresh bring-ups in a row on the lab (after ./dev up).
# Each run removes the stack with its data (remove.yml -e delete_data=true), then runs site.yml, and
# records whether it passed, why not, how long it took, and every node's restart count: a run can
# end green after a node died and Docker started it again, so restarts are counted apart.
#   bench/bringup_soak.sh [RUNS] [VERSION]      (defaults: 20, the lab inventory's version)
#   LOAD=N bench/bringup_soak.sh ...            the same with N busy loops on the machine (a loaded CPU)
# Prints one line per run and a summary (failures with their reasons, median time, restarts).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH" ANSIBLE_CONFIG="$ROOT/ansible.cfg"
runs="${1:-20}"
version="${2:-$(awk -F': ' '/^cassandra_stack_version:/ {gsub(/"/, "", $2); print $2}' inventories/lab/group_vars/all.yml)}"
logs="$ROOT/.cache/bench-soak/$version"
mkdir -p "$logs"
hosts=(corral-lab-host1 corral-lab-host2 corral-lab-host3)

# "cdb1=0 cdb2=1 ..." : the restart count of every Cassandra container of the stack.
restart_counts() {
  local host
  for host in "${hosts[@]}"; do
    docker exec "$host" sh -c 'for c in $(docker ps -aq --filter label=io.corral.role=cassandra); do
      docker inspect -f "{{.Name}}={{.RestartCount}}" "$c"; done' 2>/dev/null | tr -d /
  done | sort | tr '\n' ' '
}

hogs=()
for _ in $(seq "${LOAD:-0}"); do
  sh -c 'while :; do :; done' &
  hogs+=($!)
done
trap '[ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2>/dev/null' EXIT

failed=0 restarted=0 healed=0
times=()
reasons=()
for run in $(seq "$runs"); do
  ansible-playbook remove.yml -e stack=CassandraDB -e delete_data=true >"$logs/remove-$run.log" 2>&1 \
    || { echo "run $run: remove.yml failed, see $logs/remove-$run.log" >&2; exit 1; }
  start=$SECONDS
  ansible-playbook site.yml -e "cassandra_stack_version=$version" >"$logs/site-$run.log" 2>&1
  rc=$?
  took=$(( SECONDS - start ))
  counts=$(restart_counts)
  restarts=$(tr ' ' '\n' <<<"$counts" | awk -F= 'NF == 2 { s += $2 } END { print s + 0 }')
  heals=$(grep -c 'first boot failed' "$logs/site-$run.log")
  restarted=$(( restarted + restarts )); healed=$(( healed + heals ))
  if [ "$rc" -eq 0 ]; then
    times+=("$took")
    echo "run $run: ok in ${took}s; restarts: $counts; first boots healed: $heals"
  else
    failed=$(( failed + 1 ))
    reason=$(grep -E '^fatal:|FAILED!' "$logs/site-$run.log" | tail -n 1 | cut -c1-300)
    reasons+=("run $run: $reason")
    echo "run $run: FAILED after ${took}s; restarts: $counts; see $logs/site-$run.log"
  fi
done
median=$(printf '%s\n' "${times[@]:-0}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
echo "image $version, ${LOAD:-0} busy loops: $runs fresh bring-ups, $failed failed, $restarted unplanned restarts, $healed first boots healed; median site.yml ${median}s"
for reason in "${reasons[@]}"; do echo "  $reason"; done
