#!/usr/bin/env bash
# Installs and starts the Docker engine of this machine (the one that runs the lab hosts).
# PID 1 is not systemd on these machines, so dockerd is started in the background here.
set -euo pipefail
source "$(dirname "$0")/config.sh"

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing the Docker engine (docker.io) and the lab's tools"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! command -v debootstrap >/dev/null || ! command -v docker-registry >/dev/null || [ ! -x /bin/busybox ]; then
  log "installing debootstrap, docker-registry, busybox-static"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap docker-registry busybox-static >/dev/null
fi

# The engine pushes lab images to the lab registry over plain HTTP on the lab bridge.
python3 - "$LAB_REGISTRY" <<'PY'
import json, os, sys
path = "/etc/docker/daemon.json"
conf = json.load(open(path)) if os.path.exists(path) else {}
regs = conf.setdefault("insecure-registries", [])
if sys.argv[1] not in regs:
    regs.append(sys.argv[1])
    os.makedirs("/etc/docker", exist_ok=True)
    json.dump(conf, open(path, "w"), indent=2)
    print("changed")
PY

if docker info >/dev/null 2>&1; then
  if ! docker info --format '{{json .RegistryConfig.IndexConfigs}}' | grep -q "$LAB_REGISTRY"; then
    die "the running Docker engine does not trust the lab registry $LAB_REGISTRY; restart it so that /etc/docker/daemon.json takes effect"
  fi
  exit 0
fi
if pgrep -x dockerd >/dev/null; then
  die "dockerd runs but does not answer; look at $LAB_CACHE/dockerd.log"
fi
mkdir -p "$LAB_CACHE"
show_log() { echo "--- last lines of $1:" >&2; tail -n 25 "$1" >&2 || true; }
if pidof systemd >/dev/null 2>&1 && [ "$(cat /proc/1/comm)" = systemd ]; then
  log "starting docker.service"
  systemctl enable --now containerd docker
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done
  die "docker.service did not answer within 60 s; see journalctl -u docker"
fi

# No systemd: start containerd, then dockerd, in the background. Sockets left by a
# previous boot of this machine make dockerd dial a containerd that is not there.
if ! pgrep -x containerd >/dev/null; then
  rm -f /run/containerd/containerd.sock /run/containerd/containerd.sock.ttrpc
  log "starting containerd (log: $LAB_CACHE/containerd.log)"
  detach containerd >"$LAB_CACHE/containerd.log"
  for _ in $(seq 60); do [ -S /run/containerd/containerd.sock ] && break; sleep 1; done
  [ -S /run/containerd/containerd.sock ] || { show_log "$LAB_CACHE/containerd.log"; die "containerd did not start within 60 s"; }
fi
rm -f /var/run/docker.pid /var/run/docker.sock
log "starting dockerd (log: $LAB_CACHE/dockerd.log)"
detach dockerd --containerd=/run/containerd/containerd.sock >"$LAB_CACHE/dockerd.log"
for _ in $(seq 90); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done
show_log "$LAB_CACHE/dockerd.log"
die "dockerd did not start within 90 s; see $LAB_CACHE/dockerd.log"
