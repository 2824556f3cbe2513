#!/usr/bin/env bash
# Builds corral/cassandra-medusa:<version>, the Medusa backup sidekick, FROM corral/cassandra:<version>
# (build it first: lab/images/cassandra/build.sh), without any container registry: the pinned wheels
# of requirements.txt are downloaded here with pip and installed in the image with --no-index.
# Usage: build.sh VERSION...   Keyed by a hash of its inputs: a second run rebuilds nothing unchanged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
CACHE="${CORRAL_IMAGES_CACHE:-$ROOT/.cache/lab/cassandra}/medusa"
MEDUSA_VERSION="0.31.0"
PIP_VERSION="26.3"
# The Python the wheels are resolved for (cp311 wheels; Medusa 0.31 wants >=3.11,<3.13).
PYTHON_VERSION="3.11.2"
HASH_LABEL="io.corral.build-hash"

log() { printf '\033[1m[medusa-image]\033[0m %s\n' "$*" >&2; }
die() { printf '[medusa-image] ERROR: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum | cut -c1-16; }

(($# > 0)) || die "usage: build.sh VERSION... (the Cassandra images to base it on)"
grep -qx "cassandra-medusa==$MEDUSA_VERSION" "$HERE/requirements.txt" || die "requirements.txt does not pin cassandra-medusa==$MEDUSA_VERSION"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -n 9 || { log "waiting for another build.sh to finish"; flock 9; }

# The pinned wheels and pip's own wheel, downloaded once per requirements.txt.
ensure_wheels() {
  local hash dir
  hash="$( { cat "$HERE/requirements.txt"; echo "python=$PYTHON_VERSION pip=$PIP_VERSION"; } | sha)"
  dir="$CACHE/wheels-$hash"
  if [[ ! -f "$dir/.complete" ]]; then
    log "wheels: pip download ($(grep -c '^[^#]' "$HERE/requirements.txt") pinned packages, Python $PYTHON_VERSION)"
    rm -rf "$dir" && mkdir -p "$dir/wheels"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" \
      -d "$dir/wheels" -r "$HERE/requirements.txt" || die "pip could not download the wheels of requirements.txt"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dir/pip" "pip==$PIP_VERSION" \
      || die "pip could not download pip $PIP_VERSION"
    touch "$dir/.complete"
    find "$CACHE" -mindepth 1 -maxdepth 1 -name 'wheels-*' ! -path "$dir" -exec rm -rf {} +
  fi
  WHEELS_DIR="$dir"
}

build_medusa() {
  local version="$1" base="corral/cassandra:$1" tag="corral/cassandra-medusa:$1" start=$SECONDS
  docker image inspect "$base" >/dev/null 2>&1 || die "$base is not built (lab/images/cassandra/build.sh $version)"
  local python
  python="$(docker run --rm --entrypoint python3 "$base" -c 'import platform; print(platform.python_version())')"
  [[ "${python%.*}" == "${PYTHON_VERSION%.*}" ]] \
    || die "$base has Python $python; the Medusa wheels are for Python ${PYTHON_VERSION%.*} (Medusa $MEDUSA_VERSION needs >=3.11,<3.13)"
  local ctx="$CACHE/context/$version" hash
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -al "$WHEELS_DIR/wheels" "$ctx/wheels"
  cp -a "$WHEELS_DIR"/pip/pip-*.whl "$ctx/pip.whl"
  cp -a "$HERE/Dockerfile" "$HERE/requirements.txt" "$ctx/"
  hash="$( { docker image inspect -f '{{.Id}}' "$base"; echo "medusa=$MEDUSA_VERSION";
             (cd "$ctx" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } | sha)"
  if [[ "$(docker image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$tag" 2>/dev/null || true)" == "$hash" ]]; then
    log "$tag: up to date ($hash)"
    return
  fi
  log "$tag: docker build FROM $base (Python $python)"
  docker build --force-rm -f "$ctx/Dockerfile" \
    --build-arg "BASE_IMAGE=$base" --build-arg "MEDUSA_VERSION=$MEDUSA_VERSION" \
    --label "$HASH_LABEL=$hash" --label "io.corral.medusa-version=$MEDUSA_VERSION" \
    -t "$tag" "$ctx" >"$CACHE/context/build-$version.log" 2>&1 \
    || { tail -n 30 "$CACHE/context/build-$version.log" >&2; die "docker build of $tag failed (log: $CACHE/context/build-$version.log)"; }
  log "$tag: built ($hash) in $((SECONDS - start)) s, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1000/1000}')"
}

ensure_wheels
for version in "$@"; do
  build_medusa "$version"
done
