#!/usr/bin/env bash
# Entrypoint with the contract of the official `cassandra` image: the same CASSANDRA_*
# variables edit cassandra.yaml and cassandra-rackdc.properties, and a root start hands
# the data over to uid/gid 999 (user cassandra) before running as that user.
set -euo pipefail

# `docker run IMAGE -Dfoo=bar` and no arguments both mean: start Cassandra.
if (($# == 0)) || [[ "$1" == -* ]]; then
  set -- cassandra -f "$@"
fi

if [[ "$1" == cassandra && "$(id -u)" == 0 ]]; then
  find "$CASSANDRA_CONF" /var/lib/cassandra /var/log/cassandra \! -user cassandra \
    -exec chown cassandra:cassandra '{}' + || echo "warning: could not chown everything to cassandra" >&2
  HOME="$(getent passwd cassandra | cut -d: -f6)"
  export HOME
  exec setpriv --reuid=cassandra --regid=cassandra --init-groups "${BASH_SOURCE[0]}" "$@"
fi

# The first address that is not loopback or link-local (in swarm mode the container's own
# address comes before the service VIP).
first_ip_address() {
  ip -o -4 address show | awk '$2 != "lo" && $4 !~ /^(127|169\.254)\./ { sub(/\/.*/, "", $4); print $4; exit }'
}

# Edits a config file so that a kill at any moment leaves either the old or the new file, never a part.
# The config lives in the container's own layer and outlives a kill: a file truncated and then killed
# before it was written again (`cat tmp >file`, as the official image does it) stays empty, and every
# later start fails ("Missing required directive CommitLogSync"). So: the edit goes to a file beside it,
# a start that changes nothing writes nothing, and the new file replaces the old by rename (atomic).
# A file bind-mounted on its own cannot be renamed over: it is rewritten in place, as before.
edit_in_place() {
  local file="$1" tmp="$1.corral-new"
  shift
  sed "$@" "$file" >"$tmp"
  if cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return
  fi
  chmod --reference="$file" "$tmp"
  if ! mv -f "$tmp" "$file" 2>/dev/null; then
    cat "$tmp" >"$file"
    rm -f "$tmp"
  fi
}

if [[ "$1" == cassandra ]]; then
  : "${CASSANDRA_RPC_ADDRESS=0.0.0.0}"
  : "${CASSANDRA_LISTEN_ADDRESS=auto}"
  [[ "$CASSANDRA_LISTEN_ADDRESS" == auto ]] && CASSANDRA_LISTEN_ADDRESS="$(first_ip_address)"
  : "${CASSANDRA_BROADCAST_ADDRESS=$CASSANDRA_LISTEN_ADDRESS}"
  [[ "$CASSANDRA_BROADCAST_ADDRESS" == auto ]] && CASSANDRA_BROADCAST_ADDRESS="$(first_ip_address)"
  : "${CASSANDRA_BROADCAST_RPC_ADDRESS:=$CASSANDRA_BROADCAST_ADDRESS}"
  [[ -n "${CASSANDRA_NAME:-}" ]] && : "${CASSANDRA_SEEDS:=cassandra}"
  : "${CASSANDRA_SEEDS:=$CASSANDRA_BROADCAST_ADDRESS}"

  yaml="$CASSANDRA_CONF/cassandra.yaml"
  edit_in_place "$yaml" -r 's/(- seeds:).*/\1 "'"$CASSANDRA_SEEDS"'"/'
  for key in broadcast_address broadcast_rpc_address cluster_name endpoint_snitch \
    listen_address num_tokens rpc_address start_rpc; do
    var="CASSANDRA_${key^^}"
    if [[ -n "${!var:-}" ]]; then
      edit_in_place "$yaml" -r 's/^(# )?('"$key"':).*/\2 '"${!var}"'/'
    fi
  done
  for key in dc rack; do
    var="CASSANDRA_${key^^}"
    if [[ -n "${!var:-}" ]]; then
      edit_in_place "$CASSANDRA_CONF/cassandra-rackdc.properties" -r 's/^('"$key"'=).*/\1'"${!var}"'/'
    fi
  done
fi

exec "$@"
