#!/usr/bin/env bash
# Builds corral/moto-s3:<moto version>, moto's S3 server for the lab's test of Medusa's s3_compatible storage,
# FROM corral/cassandra:5.0.8 (lab/images/cassandra/build.sh 5.0.8 first), without any container registry: the
# pinned wheels of requirements.txt are downloaded here with pip and installed in the image with --no-index.
# Usage: build.sh [--push]   --push: to the lab registry (lab/config.sh). Keyed by a hash of its inputs: a second run
# rebuilds nothing unchanged.
# Not part of `lab/lab.sh images` (CI): only the restore scenario, run by hand, needs it (its prepare runs this).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
CACHE="${CORRAL_IMAGES_CACHE:-$ROOT/.cache/lab/cassandra}/moto"
MOTO_VERSION="5.2.5"
PIP_VERSION="26.3"
PYTHON_VERSION="3.11.2"
BASE="corral/cassandra:5.0.8"
TAG="corral/moto-s3:$MOTO_VERSION"
HASH_LABEL="io.corral.build-hash"

log() { printf '\033[1m[moto-image]\033[0m %s\n' "$*" >&2; }
die() { printf '[moto-image] ERROR: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum | cut -c1-16; }

push=""
if [[ "${1:-}" == "--push" ]]; then
  # shellcheck source=../../config.sh
  source "$ROOT/lab/config.sh"
  push="$LAB_REGISTRY"
fi
grep -qx "moto==$MOTO_VERSION" "$HERE/requirements.txt" || die "requirements.txt does not pin moto==$MOTO_VERSION"
docker image inspect "$BASE" >/dev/null 2>&1 || die "$BASE is not built (lab/images/cassandra/build.sh 5.0.8)"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

hash="$( { grep -v '^#' "$HERE/requirements.txt"; echo "python=$PYTHON_VERSION pip=$PIP_VERSION"; } | sha)"
wheels="$CACHE/wheels-$hash"
if [[ ! -f "$wheels/.complete" ]]; then
  log "wheels: pip download ($(grep -c '^[^#]' "$HERE/requirements.txt") pinned packages, Python $PYTHON_VERSION)"
  rm -rf "$wheels" && mkdir -p "$wheels/wheels"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" \
    -d "$wheels/wheels" -r "$HERE/requirements.txt" || die "pip could not download the wheels of requirements.txt"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels/pip" "pip==$PIP_VERSION" \
    || die "pip could not download pip $PIP_VERSION"
  touch "$wheels/.complete"
  find "$CACHE" -mindepth 1 -maxdepth 1 -name 'wheels-*' ! -path "$wheels" -exec rm -rf {} +
fi

ctx="$CACHE/context"
rm -rf "$ctx" && mkdir -p "$ctx"
cp -al "$wheels/wheels" "$ctx/wheels"
cp -a "$wheels"/pip/pip-*.whl "$ctx/pip.whl"
cp -a "$HERE/Dockerfile" "$HERE/requirements.txt" "$ctx/"
image_hash="$( { docker image inspect -f '{{.Id}}' "$BASE"; echo "moto=$MOTO_VERSION";
                 (cd "$ctx" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } | sha)"
if [[ "$(docker image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$TAG" 2>/dev/null || true)" == "$image_hash" ]]; then
  log "$TAG: up to date ($image_hash)"
else
  start=$SECONDS
  log "$TAG: docker build FROM $BASE"
  docker build --force-rm -f "$ctx/Dockerfile" --build-arg "BASE_IMAGE=$BASE" --build-arg "MOTO_VERSION=$MOTO_VERSION" \
    --label "$HASH_LABEL=$image_hash" -t "$TAG" "$ctx" >"$CACHE/build.log" 2>&1 \
    || { tail -n 30 "$CACHE/build.log" >&2; die "docker build of $TAG failed (log: $CACHE/build.log)"; }
  log "$TAG: built ($image_hash) in $((SECONDS - start)) s"
fi

if [[ -n "$push" ]]; then
  docker tag "$TAG" "$push/$TAG"
  docker push -q "$push/$TAG" >/dev/null || die "push of $TAG to $push failed"
  log "$TAG: pushed to $push"
fi
