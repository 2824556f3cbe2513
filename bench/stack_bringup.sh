#!/usr/bin/env bash
# Measures, in one run on the lab (after ./dev up), with the same image:
#   1. one node's start to CQL and UN (lab/images/cassandra/smoke.sh on a lab host),
#   2. a fresh three-node cluster to all UN and answering CQL (the stack stage of site.yml, from no stack),
#   3. a no-change re-run of site.yml.
# Targets: (2) within 2x (1); (3) within 30 s. It removes the lab's stack and deploys it again.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH" ANSIBLE_CONFIG="$ROOT/ansible.cfg"
version="${1:-$(awk -F': ' '/^cassandra_stack_version:/ {gsub(/"/, "", $2); print $2}' inventories/lab/group_vars/all.yml)}"
log="$ROOT/.cache/bench-stack.log"; : > "$log"

seconds() { local start=$SECONDS; "$@" >>"$log" 2>&1 || { echo "failed: $*; see $log" >&2; exit 1; }; echo $(( SECONDS - start )); }

ansible-playbook molecule/shared/reset-stack.yml >>"$log" 2>&1
one=$(seconds env IMAGE="172.30.42.1:5000/corral/cassandra:$version" bash lab/images/cassandra/smoke.sh "$version" docker exec corral-lab-host2 docker)
three=$(seconds ansible-playbook playbooks/stack.yml -e "cassandra_stack_version=$version")
rerun=$(seconds ansible-playbook site.yml -e "cassandra_stack_version=$version")
printf 'image %s\n' "$version"
printf 'one node, start to CQL and UN:            %4d s\n' "$one"
printf 'fresh 3-node cluster (stack stage, all UN): %4d s   ratio to one node: %.2f (target <= 2)\n' "$three" "$(awk -v a="$three" -v b="$one" 'BEGIN { print a / b }')"
printf 'no-change re-run of site.yml:             %4d s   (target <= 30)\n' "$rerun"
