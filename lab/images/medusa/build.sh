#!/usr/bin/env bash
# Builds corral/cassandra-medusa:<version>, the Medusa backup sidekick, FROM corral/cassandra:<version>
# (build it first: lab/images/cassandra/build.sh), with lab/images/wheels/build.sh: the pinned wheels of
# requirements.txt downloaded here with pip and installed in the image with --no-index.
# Usage: build.sh VERSION...   Keyed by a hash of its inputs: a second run rebuilds nothing unchanged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MEDUSA_VERSION="0.31.0"

die() { printf '[medusa-image] ERROR: %s\n' "$*" >&2; exit 1; }

(($# > 0)) || die "usage: build.sh VERSION... (the Cassandra images to base it on)"
grep -qx "cassandra-medusa==$MEDUSA_VERSION" "$HERE/requirements.txt" || die "requirements.txt does not pin cassandra-medusa==$MEDUSA_VERSION"
for version in "$@"; do
  bash "$HERE/../wheels/build.sh" "$HERE" "corral/cassandra:$version" "corral/cassandra-medusa:$version" \
    "MEDUSA_VERSION=$MEDUSA_VERSION"
done
