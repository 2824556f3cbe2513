#!/usr/bin/env bash
# The lab: four hosts (containers running systemd) on this machine, a bridge between them and
# a registry that serves the images built here. One command each: create, stop, start, destroy.
set -euo pipefail
LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$LAB_DIR/config.sh"

usage() {
  cat <<USAGE
usage: lab/lab.sh COMMAND
  create [VERSION...]  install/start this machine's engine, build and push the images, start the hosts
  images [VERSION...]  build the images (cached) and push them to the lab registry
           VERSION: the Cassandra images to build (default: every line of lab/images/cassandra/versions.tsv)
           (a version of versions-by-hand.tsv, like 3.11.19, is built only when named)
  connect   print the cqlsh command for the lab's stack and where its password is
  stop      stop the hosts and the registry (everything is kept)
  start     start them again
  destroy   remove every host, volume, network and registry file the lab created
  status    show the lab's hosts
  extra create NAME   create an extra host of LAB_EXTRA_HOSTS (lab-host4), as the others; the
                      orchestrator role joins it to the swarm
  extra remove NAME   take it out of the swarm and remove its container, its volume and its swarm node
  host kill NAME      a Cassandra host dies with its disks: its container is killed (no shutdown) and removed
                      with its engine's volume; the swarm keeps listing it, down
  host create NAME    a new machine in its place: same name and address, no engine yet (site.yml installs it)
USAGE
}

host_container() { echo "corral-$1"; }

registry_pid() {
  local pidfile="$LAB_CACHE/registry/pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"
}

ensure_network() {
  docker network inspect "$LAB_NETWORK" >/dev/null 2>&1 && return
  log "creating the lab bridge $LAB_NETWORK ($LAB_SUBNET)"
  docker network create --driver bridge --subnet "$LAB_SUBNET" --gateway "$LAB_GATEWAY" \
    --label "$LAB_LABEL" "$LAB_NETWORK" >/dev/null
}

start_registry() {
  [ -n "$(registry_pid)" ] && return
  mkdir -p "$LAB_CACHE/registry/data"
  cat > "$LAB_CACHE/registry/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $LAB_CACHE/registry/data
  delete:
    enabled: true
http:
  addr: $LAB_REGISTRY
CONF
  log "starting the lab registry on $LAB_REGISTRY"
  detach docker-registry serve "$LAB_CACHE/registry/config.yml" >"$LAB_CACHE/registry/registry.log"
  echo $! > "$LAB_CACHE/registry/pid"
  for _ in $(seq 30); do
    curl -fsS "http://$LAB_REGISTRY/v2/" >/dev/null 2>&1 && return
    sleep 0.5
  done
  die "the lab registry did not start; see $LAB_CACHE/registry/registry.log"
}

stop_registry() {
  local pid
  pid=$(registry_pid) || true
  [ -n "$pid" ] || return 0
  kill "$pid"; rm -f "$LAB_CACHE/registry/pid"
}

# With versions: only those Cassandra images are built and pushed (./dev up); without: every one.
build_and_push_images() {
  bash "$LAB_DIR/images/host/build.sh"
  bash "$LAB_DIR/images/busybox/build.sh"
  bash "$LAB_DIR/images/cassandra/build.sh" "$@"
  local image cassandra_images version medusa_versions=()
  if [ $# -gt 0 ]; then
    cassandra_images=$(printf 'corral/cassandra:%s\n' "$@")
  else
    cassandra_images=$(docker images --format '{{.Repository}}:{{.Tag}}' corral/cassandra | sort)
  fi
  # The Medusa sidekick of each version of LAB_MEDUSA_CASSANDRA_VERSIONS whose Cassandra image was just built.
  for version in "${LAB_MEDUSA_CASSANDRA_VERSIONS[@]}"; do
    if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qxF "$version"; then medusa_versions+=("$version"); fi
  done
  if [ ${#medusa_versions[@]} -gt 0 ]; then
    bash "$LAB_DIR/images/medusa/build.sh" "${medusa_versions[@]}"
    cassandra_images+=$'\n'$(printf 'corral/cassandra-medusa:%s\n' "${medusa_versions[@]}")
  fi
  # Pushing an image the registry already holds only compares digests: it costs a second.
  for image in "$LAB_BUSYBOX_IMAGE" $cassandra_images; do
    docker tag "$image" "$LAB_REGISTRY/$image"
    log "pushing $LAB_REGISTRY/$image"
    docker push -q "$LAB_REGISTRY/$image" >/dev/null || die "push of $image to $LAB_REGISTRY failed"
  done
}

wait_for_systemd() {
  local name=$1 state
  for _ in $(seq 120); do
    state=$(docker exec "$(host_container "$name")" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) return 0 ;; esac
    sleep 0.5
  done
  die "$name: systemd did not come up (state: ${state:-none})"
}

ssh_key() {
  mkdir -p "$LAB_CACHE/ssh"; chmod 700 "$LAB_CACHE/ssh"
  [ -f "$LAB_CACHE/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C corral-lab -f "$LAB_CACHE/ssh/id_ed25519"
}

create_host() {
  local name=$1 ip=$2 container
  container=$(host_container "$name")
  if docker container inspect "$container" >/dev/null 2>&1; then
    docker start "$container" >/dev/null
    return
  fi
  log "creating host $name ($ip)"
  docker run -d --name "$container" --hostname "$name" \
    --network "$LAB_NETWORK" --ip "$ip" --label "$LAB_LABEL" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --stop-signal SIGRTMIN+3 --stop-timeout 60 \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
    -v "$container-docker:/var/lib/docker" \
    "$LAB_HOST_IMAGE" >/dev/null
}

setup_host_access() {
  local name=$1 container
  container=$(host_container "$name")
  wait_for_systemd "$name"
  docker exec -i "$container" bash -s "$LAB_SSH_USER" "$(cat "$LAB_CACHE/ssh/id_ed25519.pub")" <<'SH'
set -e
user=$1 key=$2
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
echo "$user ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/$user; chmod 0440 /etc/sudoers.d/$user
install -d -m 700 -o "$user" -g "$user" /home/$user/.ssh
echo "$key" > /home/$user/.ssh/authorized_keys
chown "$user:$user" /home/$user/.ssh/authorized_keys; chmod 600 /home/$user/.ssh/authorized_keys
SH
}

# The lab hosts as production reaches them: SSH as the unprivileged user, with become.
# Written here because only the lab knows where its key is.
write_ssh_inventory() {
  local entry name ip group
  host_entry() {
    printf '        %s:\n' "$1"
    printf '          ansible_host: %s\n' "$2"
    # Host variables: they win over the lab's group_vars, which reach hosts through docker.
    printf '          ansible_connection: ssh\n'
    printf '          ansible_user: %s\n' "$LAB_SSH_USER"
    printf '          ansible_become: true\n'
    printf '          ansible_ssh_private_key_file: %s\n' "$LAB_CACHE/ssh/id_ed25519"
    printf '          ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\n'
  }
  {
    echo "all:"
    echo "  children:"
    for group in orchestrator cassandra_hosts; do
      echo "    $group:"
      echo "      hosts:"
      for entry in "${LAB_HOSTS[@]}"; do
        name=${entry%% *}; ip=${entry##* }
        if [ "$name" = lab-manager ] && [ "$group" = orchestrator ]; then host_entry "$name" "$ip"; fi
        if [ "$name" != lab-manager ] && [ "$group" = cassandra_hosts ]; then host_entry "$name" "$ip"; fi
      done
    done
  } > "$LAB_CACHE/ssh/inventory.yml"
}

cmd_create() {
  bash "$LAB_DIR/engine.sh"
  ensure_network
  start_registry
  build_and_push_images "$@"
  ssh_key
  local entry
  for entry in "${LAB_HOSTS[@]}"; do create_host $entry; done
  for entry in "${LAB_HOSTS[@]}"; do setup_host_access "${entry%% *}"; done
  write_ssh_inventory
  log "lab ready: $(printf '%s ' "${LAB_HOSTS[@]%% *}")"
}

cmd_stop() {
  local entry
  for entry in "${LAB_HOSTS[@]}" "${LAB_EXTRA_HOSTS[@]}"; do
    docker stop "$(host_container "${entry%% *}")" >/dev/null 2>&1 || true
  done
  stop_registry
  log "lab stopped"
}

cmd_start() {
  bash "$LAB_DIR/engine.sh"
  docker network inspect "$LAB_NETWORK" >/dev/null 2>&1 || die "there is no lab: run lab/lab.sh create"
  start_registry
  local entry
  for entry in "${LAB_HOSTS[@]}"; do
    docker start "$(host_container "${entry%% *}")" >/dev/null || die "host ${entry%% *} is missing: run lab/lab.sh create"
  done
  for entry in "${LAB_HOSTS[@]}"; do wait_for_systemd "${entry%% *}"; done
  log "lab started"
}

cmd_destroy() {
  local ids
  ids=$(docker ps -aq --filter "label=$LAB_LABEL")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  local entry
  for entry in "${LAB_HOSTS[@]}" "${LAB_EXTRA_HOSTS[@]}"; do
    docker volume rm "$(host_container "${entry%% *}")-docker" >/dev/null 2>&1 || true
  done
  docker network rm "$LAB_NETWORK" >/dev/null 2>&1 || true
  stop_registry
  rm -rf "$LAB_CACHE/registry" "$LAB_CACHE/ssh"
  log "lab destroyed (built images are kept as the build cache; docker rmi them to free space)"
}

cmd_status() {
  docker ps -a --filter "label=$LAB_LABEL" --format 'table {{.Names}}\t{{.Status}}'
  if [ -n "$(registry_pid)" ]; then echo "registry: running on $LAB_REGISTRY"; else echo "registry: stopped"; fi
}

# How to reach the stack: cqlsh inside the first seed's container, on the lab host that runs it (the
# overlay address is reachable only from containers on the overlay). Read from the containers' labels.
cmd_connect() {
  local entry name found="" seed ip
  for entry in "${LAB_HOSTS[@]}"; do
    name=${entry%% *}
    found=$(docker exec "$(host_container "$name")" docker ps \
      --filter "label=io.corral.stack=$LAB_STACK" --filter label=io.corral.seed=true \
      --format '{{.Names}} {{.Label "io.corral.requested-ip"}}' 2>/dev/null | sort | head -n 1) || true
    [ -n "$found" ] && break
  done
  [ -n "$found" ] || die "no running seed of the stack $LAB_STACK on the lab hosts"
  read -r seed ip <<<"$found"
  local credentials="$HOME/.config/corral-cassandra/$LAB_STACK.credentials"
  echo "Connect with cqlsh inside $seed, on $name:"
  echo "  docker exec -it $(host_container "$name") docker exec -it $seed cqlsh -u $LAB_SUPERUSER $ip"
  if [ -f "$credentials" ]; then
    echo "It asks for the password of $LAB_SUPERUSER, generated by site.yml and kept in $credentials"
  else
    echo "It asks for the password of $LAB_SUPERUSER: cassandra_stack_superuser_password of the inventory"
  fi
}

extra_host_ip() {
  local entry
  for entry in "${LAB_EXTRA_HOSTS[@]}"; do
    [ "${entry%% *}" = "$1" ] && { echo "${entry##* }"; return 0; }
  done
  die "'$1' is not an extra host of the lab (LAB_EXTRA_HOSTS in lab/config.sh: ${LAB_EXTRA_HOSTS[*]%% *})"
}

# The manager's swarm node entries for that hostname (a host that left or was removed stays listed as down).
forget_swarm_node() {
  local name=$1 ids
  ids=$(docker exec "$(host_container lab-manager)" docker node ls --format '{{.ID}} {{.Hostname}}' 2>/dev/null \
    | awk -v name="$name" '$2 == name { print $1 }') || true
  [ -z "$ids" ] || docker exec "$(host_container lab-manager)" docker node rm --force $ids >/dev/null
}

# A host container with its SSH access, as lab/lab.sh create makes them (extra create, host create).
new_machine() {
  ssh_key
  create_host "$1" "$2"
  setup_host_access "$1"
}

cmd_extra() {
  local action=${1:-} name=${2:-} ip container
  ip=$(extra_host_ip "$name")
  container=$(host_container "$name")
  case "$action" in
    create)
      docker network inspect "$LAB_NETWORK" >/dev/null 2>&1 || die "there is no lab: run lab/lab.sh create"
      # A swarm node left by an earlier host of that name would share its labels with the new one.
      docker container inspect "$container" >/dev/null 2>&1 || forget_swarm_node "$name"
      new_machine "$name" "$ip"
      log "extra host $name ready ($ip)" ;;
    remove)
      docker exec "$container" docker swarm leave --force >/dev/null 2>&1 || true
      docker rm -f "$container" >/dev/null 2>&1 || true
      docker volume rm "$container-docker" >/dev/null 2>&1 || true
      forget_swarm_node "$name"
      log "extra host $name removed" ;;
    *) usage; exit 2 ;;
  esac
}

# The address of a lab host that runs Cassandra (not the manager: the swarm's one manager cannot die here).
cassandra_host_ip() {
  local entry
  for entry in "${LAB_HOSTS[@]}" "${LAB_EXTRA_HOSTS[@]}"; do
    [ "${entry%% *}" != lab-manager ] && [ "${entry%% *}" = "$1" ] && { echo "${entry##* }"; return 0; }
  done
  die "'$1' is not a Cassandra host of the lab: $(printf '%s ' "${LAB_HOSTS[@]%% *}" "${LAB_EXTRA_HOSTS[@]%% *}" | sed 's/lab-manager //')"
}

cmd_host() {
  local action=${1:-} name=${2:-} ip container
  ip=$(cassandra_host_ip "$name")
  container=$(host_container "$name")
  case "$action" in
    kill)
      docker container inspect "$container" >/dev/null 2>&1 || die "host $name does not exist"
      docker kill "$container" >/dev/null
      docker rm -f "$container" >/dev/null
      docker volume rm "$container-docker" >/dev/null
      log "host $name killed: its container, its disk and its engine's state are gone" ;;
    create)
      docker network inspect "$LAB_NETWORK" >/dev/null 2>&1 || die "there is no lab: run lab/lab.sh create"
      docker container inspect "$container" >/dev/null 2>&1 && die "host $name exists: kill it first"
      new_machine "$name" "$ip"
      log "host $name created as a new machine ($ip)" ;;
    *) usage; exit 2 ;;
  esac
}

[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0
case "${1:-}" in
  create) shift; cmd_create "$@" ;;
  stop|start|destroy|status|connect) "cmd_$1" ;;
  extra) shift; cmd_extra "$@" ;;
  host) shift; cmd_host "$@" ;;
  images) shift; bash "$LAB_DIR/engine.sh"; ensure_network; start_registry; build_and_push_images "$@" ;;
  *) usage; exit 2 ;;
esac
