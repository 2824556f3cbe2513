#!/usr/bin/env bash
# Times the lab from nothing (no images, no build cache, no lab) to site.yml done, then again
# with everything cached (lab destroyed, images and build cache kept). Run by hand:
#   bench/lab_from_nothing.sh            both runs
#   bench/lab_from_nothing.sh --cached   only the cached run
# It destroys the lab and, for the first run, the lab's images and build cache.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source lab/config.sh

timed_up() {
  local start end
  start=$(date +%s)
  ./dev up >"$LAB_CACHE/../bench-$1.log" 2>&1 || { echo "./dev up failed: see .cache/bench-$1.log" >&2; exit 1; }
  end=$(date +%s)
  echo $(( end - start ))
}

mkdir -p "$LAB_CACHE"
./dev lab destroy >/dev/null 2>&1 || true
if [ "${1:-}" != "--cached" ]; then
  # Children (the Cassandra images) go before their parents (the JRE images): a few passes.
  lab_images() {
    docker images --format '{{.ID}} {{.Repository}}' | awk -v r="$LAB_REGISTRY/corral/" \
      'index($2, "corral/") == 1 || index($2, r) == 1 { print $1 }' | sort -u
  }
  for _ in 1 2 3; do lab_images | xargs -r docker rmi -f >/dev/null 2>&1 || true; done
  [ -z "$(lab_images)" ] || { echo "could not remove the lab images: $(lab_images | xargs)" >&2; exit 1; }
  docker builder prune -af >/dev/null 2>&1 || true
  rm -rf "$LAB_CACHE/cassandra"
  cold=$(timed_up cold)
  ./dev lab destroy >/dev/null
fi
warm=$(timed_up cached)
[ -n "${cold:-}" ] && printf 'lab from nothing to site.yml done: %s s (no images, no build cache)\n' "$cold"
printf 'same with images and build cache:  %s s\n' "$warm"
[ -n "${cold:-}" ] && awk -v w="$warm" -v c="$cold" 'BEGIN { printf "cached / from nothing:              %.2f\n", w / c }'
exit 0
