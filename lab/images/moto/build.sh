#!/usr/bin/env bash
# Builds corral/moto-s3:<moto version>, moto's S3 server for the lab's test of Medusa's s3_compatible storage,
# FROM corral/cassandra:5.0.8 (lab/images/cassandra/build.sh 5.0.8 first), with lab/images/wheels/build.sh: the
# pinned wheels of requirements.txt downloaded here with pip and installed in the image with --no-index.
# Usage: build.sh [--push]   --push: to the lab registry (lab/config.sh). Keyed by a hash of its inputs: a second run
# rebuilds nothing unchanged.
# Not part of `lab/lab.sh images` (CI): only the restore scenario, run by hand, needs it (its prepare runs this).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
MOTO_VERSION="5.2.5"

die() { printf '[moto-image] ERROR: %s\n' "$*" >&2; exit 1; }

push=()
if [[ "${1:-}" == "--push" ]]; then
  # shellcheck source=../../config.sh
  source "$ROOT/lab/config.sh"
  push=(--push "$LAB_REGISTRY")
fi
grep -qx "moto==$MOTO_VERSION" "$HERE/requirements.txt" || die "requirements.txt does not pin moto==$MOTO_VERSION"
bash "$HERE/../wheels/build.sh" "${push[@]}" "$HERE" corral/cassandra:5.0.8 "corral/moto-s3:$MOTO_VERSION" \
  "MOTO_VERSION=$MOTO_VERSION"
