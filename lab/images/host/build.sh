#!/usr/bin/env bash
# Builds the lab host image: Debian bookworm with systemd and sshd, from debootstrap.
# The Docker engine is NOT in it: the docker_engine role installs it, as on a real host.
set -euo pipefail
source "$(dirname "$0")/../../config.sh"

SUITE=bookworm
PACKAGES="systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,iptables,procps,ca-certificates,openssh-server,sudo,kmod,gnupg"
hash=$(printf '%s\n' "$SUITE" "$PACKAGES" "$(cat "$0")" | sha256sum | cut -c1-16)

if [ "$(docker image inspect -f '{{index .Config.Labels "io.corral.build-hash"}}' "$LAB_HOST_IMAGE" 2>/dev/null)" = "$hash" ]; then
  log "$LAB_HOST_IMAGE: up to date"
  exit 0
fi
work="$LAB_CACHE/host-rootfs"
# debootstrap may leave /proc mounted in the target, and daemons started by package scripts
# (gpg-agent, dirmngr) running in it: stop both before the tree is archived or removed.
release_rootfs() {
  local pid
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$work" ] && kill -9 "${pid#/proc/}" 2>/dev/null || true
  done
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
}
release_rootfs
rm -rf "$work"; mkdir -p "$work"
log "$LAB_HOST_IMAGE: debootstrap $SUITE (about a minute)"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work" >"$LAB_CACHE/host-debootstrap.log" 2>&1 \
  || die "debootstrap failed; see $LAB_CACHE/host-debootstrap.log"
# A container has no consoles or kernel to set up; these units only fail or wait there.
for unit in getty@tty1.service serial-getty@console.service systemd-remount-fs.service \
            sys-kernel-config.mount sys-kernel-debug.mount systemd-firstboot.service; do
  ln -sf /dev/null "$work/etc/systemd/system/$unit"
done
rm -f "$work"/etc/ssh/ssh_host_*          # each host makes its own at first boot
cat > "$work/etc/systemd/system/lab-ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate this lab host's SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/lab-ssh-hostkeys.service "$work/etc/systemd/system/multi-user.target.wants/lab-ssh-hostkeys.service"
echo "lab-host" > "$work/etc/hostname"
rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/*
release_rootfs
tar -C "$work" --one-file-system -c . | docker import \
  -c 'CMD ["/lib/systemd/systemd"]' -c 'ENV container=docker' \
  -c "LABEL io.corral.build-hash=$hash" - "$LAB_HOST_IMAGE" >/dev/null
rm -rf "$work"
log "$LAB_HOST_IMAGE: built"
