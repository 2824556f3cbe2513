# Shared settings of the lab: sourced by the lab scripts.
# shellcheck shell=bash
LAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB_CACHE="${LAB_CACHE:-$LAB_ROOT/.cache/lab}"
LAB_NETWORK="corral-lab"
LAB_SUBNET="172.30.42.0/24"
LAB_GATEWAY="172.30.42.1"
LAB_REGISTRY="$LAB_GATEWAY:5000"
LAB_LABEL="io.corral.lab=true"
# Inventory name, then address on the lab bridge.
LAB_HOSTS=(
  "lab-manager 172.30.42.10"
  "lab-host1 172.30.42.11"
  "lab-host2 172.30.42.12"
  "lab-host3 172.30.42.13"
)
# Hosts beyond the usual lab, made and removed by one scenario only (lab/lab.sh extra create|remove NAME):
# create, start, stop and ./dev up never make them. Inventory name, then address on the lab bridge.
LAB_EXTRA_HOSTS=(
  "lab-host4 172.30.42.14"
)
LAB_HOST_IMAGE="corral/lab-host:bookworm"
LAB_BUSYBOX_IMAGE="corral/busybox:stable"
LAB_SSH_USER="corral"
# What ./dev up builds and connects to: the lab inventory's classic replay. Cassandra 3.9
# (cassandra_stack_version in inventories/lab/group_vars/all.yml), then upgrade.yml -e version=3.10.
# `lab/lab.sh create` and `images` with no version, as ./dev test and `./dev lab images` run them,
# build every line of lab/images/cassandra/versions.tsv (the scenarios use 4.1.10 and 5.0.8 too).
# lab/images/cassandra/versions-by-hand.tsv (3.11.19, for molecule/upgrade_format) is built only when named:
# `lab/lab.sh images 3.11.19`; CI never builds it.
# tests/unit/lab/test_config.py checks these against the inventory, the role defaults and the README.
LAB_UP_CASSANDRA_VERSIONS=(3.9 3.10)
# The Cassandra versions that get a Medusa backup sidekick image (corral/cassandra-medusa:<version>): those
# whose image's Python fits Medusa (>=3.11,<3.13): 5.0.8 (bookworm, 3.11). 4.1.10 (bullseye) has 3.9, 3.x (sid) 3.14.
LAB_MEDUSA_CASSANDRA_VERSIONS=(5.0.8)
LAB_STACK="CassandraDB"     # cassandra_stack_name, the role's default
LAB_SUPERUSER="admin"       # cassandra_stack_superuser_name, the role's default

log() { printf '\033[1m[lab]\033[0m %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# Starts a daemon in its own session with only stdin/stdout/stderr: a lock or pipe held by
# the caller (flock .cache/lab.lock ./dev ...) must not stay held by the daemon.
detach() {
  setsid bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$@"' \
    detach "$@" 2>&1 < /dev/null &
}
