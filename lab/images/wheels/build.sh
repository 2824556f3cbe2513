#!/usr/bin/env bash
# Builds an image of pinned PyPI wheels in a virtual environment FROM a base image, without any container registry:
# the wheels of IMAGE_DIR/requirements.txt are downloaded here with pip and installed in the image with --no-index
# (install.Dockerfile, the first stage), into /opt/<IMAGE_DIR's name>; IMAGE_DIR/Dockerfile is the final stage,
# which copies that environment FROM the same base. Used by lab/images/medusa and lab/images/moto.
# Usage: build.sh [--push REGISTRY] IMAGE_DIR BASE TAG [BUILD_ARG=VALUE...]
# Keyed by a hash of its inputs: a second run rebuilds nothing unchanged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
PIP_VERSION="26.3"
# The Python the wheels are resolved for: the python3 of the 5.0.8 image's Debian bookworm (cp311 wheels).
PYTHON_VERSION="3.11.2"
HASH_LABEL="io.corral.build-hash"

push=""
if [[ "${1:-}" == "--push" ]]; then
  push="${2:?--push needs the registry}"
  shift 2
fi
(($# >= 3)) || { echo "usage: build.sh [--push REGISTRY] IMAGE_DIR BASE TAG [BUILD_ARG=VALUE...]" >&2; exit 2; }
IMAGE_DIR="$(cd "$1" && pwd)" BASE="$2" TAG="$3"
shift 3
NAME="$(basename "$IMAGE_DIR")"
CACHE="${CORRAL_IMAGES_CACHE:-$ROOT/.cache/lab/cassandra}/$NAME"

log() { printf '\033[1m[%s-image]\033[0m %s\n' "$NAME" "$*" >&2; }
die() { printf '[%s-image] ERROR: %s\n' "$NAME" "$*" >&2; exit 1; }
sha() { sha256sum | cut -c1-16; }

docker image inspect "$BASE" >/dev/null 2>&1 || die "$BASE is not built (lab/images/cassandra/build.sh ${BASE##*:})"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -n 9 || { log "waiting for another build of $NAME to finish"; flock 9; }

# The pinned wheels and pip's own wheel, downloaded once per requirements.txt.
hash="$( { grep -v '^#' "$IMAGE_DIR/requirements.txt"; echo "python=$PYTHON_VERSION pip=$PIP_VERSION"; } | sha)"
wheels="$CACHE/wheels-$hash"
if [[ ! -f "$wheels/.complete" ]]; then
  log "wheels: pip download ($(grep -c '^[^#]' "$IMAGE_DIR/requirements.txt") pinned packages, Python $PYTHON_VERSION)"
  rm -rf "$wheels" && mkdir -p "$wheels/wheels"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" \
    -d "$wheels/wheels" -r "$IMAGE_DIR/requirements.txt" || die "pip could not download the wheels of requirements.txt"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels/pip" "pip==$PIP_VERSION" \
    || die "pip could not download pip $PIP_VERSION"
  touch "$wheels/.complete"
  find "$CACHE" -mindepth 1 -maxdepth 1 -name 'wheels-*' ! -path "$wheels" -exec rm -rf {} +
fi

python="$(docker run --rm --entrypoint python3 "$BASE" -c 'import platform; print(platform.python_version())')"
[[ "${python%.*}" == "${PYTHON_VERSION%.*}" ]] \
  || die "$BASE has Python $python; the wheels of $NAME are for Python ${PYTHON_VERSION%.*}"

ctx="$CACHE/context/${TAG##*:}"
rm -rf "$ctx" && mkdir -p "$ctx"
cp -al "$wheels/wheels" "$ctx/wheels"
cp -a "$wheels"/pip/pip-*.whl "$ctx/pip.whl"
cp -a "$IMAGE_DIR/requirements.txt" "$ctx/"
cat "$HERE/install.Dockerfile" "$IMAGE_DIR/Dockerfile" >"$ctx/Dockerfile"
build_args=(--build-arg "BASE_IMAGE=$BASE" --build-arg "VENV=/opt/$NAME")
for arg in "$@"; do build_args+=(--build-arg "$arg"); done
image_hash="$( { docker image inspect -f '{{.Id}}' "$BASE"; printf '%s\n' "${build_args[@]}";
                 (cd "$ctx" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } | sha)"
if [[ "$(docker image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$TAG" 2>/dev/null || true)" == "$image_hash" ]]; then
  log "$TAG: up to date ($image_hash)"
else
  start=$SECONDS
  log "$TAG: docker build FROM $BASE (Python $python)"
  docker build --force-rm -f "$ctx/Dockerfile" "${build_args[@]}" --label "$HASH_LABEL=$image_hash" -t "$TAG" "$ctx" \
    >"$ctx.log" 2>&1 || { tail -n 30 "$ctx.log" >&2; die "docker build of $TAG failed (log: $ctx.log)"; }
  log "$TAG: built ($image_hash) in $((SECONDS - start)) s, $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%d MB", $1/1000/1000}')"
fi

if [[ -n "$push" ]]; then
  docker tag "$TAG" "$push/$TAG"
  docker push -q "$push/$TAG" >/dev/null || die "push of $TAG to $push failed"
  log "$TAG: pushed to $push"
fi
