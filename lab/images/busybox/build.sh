#!/usr/bin/env bash
# Builds a BusyBox image from Debian's busybox-static: a scratch image with the binary and its applets.
set -euo pipefail
source "$(dirname "$0")/../../config.sh"

[ -x /bin/busybox ] || die "/bin/busybox is missing: apt-get install busybox-static"
hash=$( (sha256sum /bin/busybox; cat "$0") | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "io.corral.build-hash"}}' "$LAB_BUSYBOX_IMAGE" 2>/dev/null)" = "$hash" ]; then
  log "$LAB_BUSYBOX_IMAGE: up to date"
  exit 0
fi
work="$LAB_CACHE/busybox-rootfs"
rm -rf "$work"; mkdir -p "$work/bin" "$work/tmp" "$work/etc"; chmod 1777 "$work/tmp"
cp /bin/busybox "$work/bin/busybox"
for applet in $("$work/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$work/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\ncassandra:x:999:999::/var/lib/cassandra:/bin/false\n' > "$work/etc/passwd"
printf 'root:x:0:\ncassandra:x:999:\n' > "$work/etc/group"
banner=$(/bin/busybox --help 2>&1 || true)
version=$(awk 'NR==1 {print $2}' <<<"$banner")
tar -C "$work" -c . | docker import -c 'CMD ["sh"]' -c "LABEL io.corral.build-hash=$hash" \
  -c "LABEL org.opencontainers.image.version=$version" - "$LAB_BUSYBOX_IMAGE" >/dev/null
rm -rf "$work"
log "$LAB_BUSYBOX_IMAGE: built (BusyBox $version)"
