#!/usr/bin/env bash
# Builds corral/cassandra:<version> images without any container registry: Debian packages
# (debootstrap) for the JRE base, Maven Central for Cassandra's jars, PyPI for the cqlsh wheel.
# Usage: build.sh [VERSION...]   (default: every version in versions.tsv; those of versions-by-hand.tsv only by name)
# Each step is keyed by a hash of its inputs, so a second run rebuilds nothing unchanged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
CACHE="${CORRAL_IMAGES_CACHE:-$ROOT/.cache/lab/cassandra}"
VERSIONS_FILE="$HERE/versions.tsv"
# Versions built only when named (build.sh 3.11.19): scenarios run by hand. CI builds versions.tsv, not these.
BY_HAND_FILE="$HERE/versions-by-hand.tsv"
CQLSH_VERSION="6.2.2"
HASH_LABEL="io.corral.build-hash"
JRE_PACKAGES=(procps iproute2 util-linux python3 python3-cassandra python3-wcwidth)

log() { printf '\033[1m[cassandra-images]\033[0m %s\n' "$*" >&2; }
die() { printf '[cassandra-images] ERROR: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum | cut -c1-16; }

for tool in docker debootstrap mvn python3; do
  command -v "$tool" >/dev/null || die "$tool is needed on this machine"
done
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (start it with lab/engine.sh)"
mkdir -p "$CACHE"
# One build at a time: debootstrap and docker build share 2 cores and the cache.
exec 9>"$CACHE/.lock"
flock -n 9 || { log "waiting for another build.sh to finish"; flock 9; }

# version -> "java suite config_line"; ORDER: what a build with no argument builds (versions.tsv only).
declare -A LINE=()
ORDER=()
read_versions() {
  local file="$1" default="$2" name version java suite config_line rest
  name="$(basename "$file")"
  while IFS=$'\t' read -r version java suite config_line rest; do
    [[ -z "$version" || "$version" == \#* ]] && continue
    [[ -n "$config_line" && -z "${rest:-}" ]] || die "$name: bad line for '$version' (want 4 tab-separated fields)"
    [[ -d "$HERE/conf/$config_line" ]] || die "$name: $version uses config line '$config_line' but conf/$config_line/ does not exist"
    [[ -z "${LINE[$version]:-}" ]] || die "$name: $version is listed twice (versions.tsv, versions-by-hand.tsv)"
    LINE[$version]="$java $suite $config_line"
    if [[ "$default" == yes ]]; then ORDER+=("$version"); fi
  done <"$file"
}
read_versions "$VERSIONS_FILE" yes
if [[ -f "$BY_HAND_FILE" ]]; then read_versions "$BY_HAND_FILE" no; fi

# One Debian suite per Java, since the base image is tagged corral/jre:<java>.
declare -A SUITE_OF_JAVA=()
for version in "${!LINE[@]}"; do
  read -r java suite _ <<<"${LINE[$version]}"
  if [[ -n "${SUITE_OF_JAVA[$java]:-}" && "${SUITE_OF_JAVA[$java]}" != "$suite" ]]; then
    die "versions.tsv: Java $java is listed with both ${SUITE_OF_JAVA[$java]} and $suite; use one suite per Java"
  fi
  SUITE_OF_JAVA[$java]="$suite"
done

# True when the tag exists and carries the given build hash (child images inherit labels,
# so only the tag's own image counts, never "any image with that label").
image_up_to_date() {
  [[ "$(docker image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$1" 2>/dev/null || true)" == "$2" ]]
}

# Removes a debootstrap target, unmounting first whatever an interrupted run left mounted in it.
remove_rootfs() {
  local dir="$1" mnt
  [[ -e "$dir" ]] || return 0
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mnt; do
    umount -l "$mnt" || true
  done
  rm -rf --one-file-system "$dir"
}

jre_hash() {
  local java="$1"
  { echo "suite=${SUITE_OF_JAVA[$java]} java=$java"; printf '%s\n' "${JRE_PACKAGES[@]}"; declare -f build_jre; } | sha
}

# corral/jre:<java>: a minbase Debian root filesystem with the headless JRE, imported as an image.
build_jre() {
  local java="$1" hash="$2" suite="${SUITE_OF_JAVA[$1]}" tag="corral/jre:$1"
  local dir="$CACHE/jre" tarball="$CACHE/jre/jre-$1-$suite-$2.tar"
  mkdir -p "$dir"
  if [[ ! -s "$tarball" || ! -s "$tarball.java_home" ]]; then
    local rootfs="$dir/rootfs-$java-$hash"
    remove_rootfs "$rootfs"
    log "jre $java: debootstrap --variant=minbase $suite (a minute or two)"
    local packages
    packages="$(IFS=,; echo "openjdk-$java-jre-headless,${JRE_PACKAGES[*]}")"
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" >"$dir/debootstrap-$java.log" 2>&1 \
      || { tail -n 30 "$dir/debootstrap-$java.log" >&2; die "debootstrap of $suite failed (log: $dir/debootstrap-$java.log)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
      "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
    chroot "$rootfs" readlink -f /usr/bin/java | sed 's#/bin/java$##' >"$tarball.java_home"
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    remove_rootfs "$rootfs"
    find "$dir" -maxdepth 1 -name "jre-$java-*" ! -name "$(basename "$tarball")*" -delete  # older recipes
  fi
  local java_home
  java_home="$(cat "$tarball.java_home")"
  log "jre $java: docker import as $tag"
  docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' \
    -c "ENV JAVA_HOME=$java_home" \
    -c "LABEL $HASH_LABEL=$hash org.opencontainers.image.title=corral-jre-$java io.corral.debian-suite=$suite" \
    -c 'CMD ["bash"]' \
    "$tarball" "$tag" >/dev/null
}

ensure_jre() {
  local java="$1" hash
  hash="$(jre_hash "$java")"
  # An imported root filesystem is a single layer; anything else under this tag is stale.
  if image_up_to_date "corral/jre:$java" "$hash" \
    && [[ "$(docker image inspect -f '{{len .RootFS.Layers}}' "corral/jre:$java")" == 1 ]]; then
    log "corral/jre:$java: up to date ($hash)"
  else
    local start=$SECONDS
    build_jre "$java" "$hash"
    log "corral/jre:$java: built ($hash) in $((SECONDS - start)) s"
  fi
  JRE_HASH="$hash"
}

# Cassandra's runtime classpath from Maven Central, keyed by the generated pom.
write_pom() {
  local version="$1" extra=""
  if [[ "$version" == 3.* ]]; then
    # 3.x nodetool needs these, and cassandra-all does not bring them at runtime scope.
    extra='
    <dependency><groupId>io.airlift</groupId><artifactId>airline</artifactId><version>0.6</version></dependency>
    <dependency><groupId>javax.inject</groupId><artifactId>javax.inject</artifactId><version>1</version></dependency>'
  fi
  if [[ "$version" == 3.11.* ]]; then
    # 3.11's cassandra-all pom no longer brings its Thrift classes, which the daemon loads at start.
    extra+="
    <dependency><groupId>org.apache.cassandra</groupId><artifactId>cassandra-thrift</artifactId><version>$version</version></dependency>"
  fi
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.corral.lab</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>$version</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.cassandra</groupId><artifactId>cassandra-all</artifactId><version>$version</version></dependency>$extra
  </dependencies>
</project>
EOF
}

ensure_lib() {
  local version="$1" hash dir
  hash="$(write_pom "$version" | sha)"
  dir="$CACHE/lib/$version-$hash"
  if [[ -f "$dir/.complete" ]]; then
    log "jars $version: up to date ($(find "$dir/lib" -name '*.jar' | wc -l) jars)"
  else
    log "jars $version: mvn dependency:copy-dependencies (runtime scope)"
    rm -rf "$dir" && mkdir -p "$dir"
    write_pom "$version" >"$dir/pom.xml"
    mvn -B -q -f "$dir/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$dir/lib" >"$dir/mvn.log" 2>&1 \
      || { tail -n 20 "$dir/mvn.log" >&2; die "Maven could not resolve cassandra-all:$version (log: $dir/mvn.log)"; }
    ls "$dir/lib"/cassandra-all-*.jar >/dev/null 2>&1 || die "no cassandra-all jar for $version in $dir/lib"
    touch "$dir/.complete"
    find "$CACHE/lib" -mindepth 1 -maxdepth 1 -name "$version-*" ! -path "$dir" -exec rm -rf {} +  # older poms
    log "jars $version: $(find "$dir/lib" -name '*.jar' | wc -l) jars, $(du -sh "$dir/lib" | cut -f1)"
  fi
  LIB_DIR="$dir/lib"
}

# cqlsh: the pure-Python wheel from PyPI, unpacked; it runs on Debian's python3-cassandra.
ensure_cqlsh() {
  local dir="$CACHE/cqlsh-$CQLSH_VERSION"
  if [[ ! -f "$dir/.complete" ]]; then
    log "cqlsh $CQLSH_VERSION: pip download"
    rm -rf "$dir" && mkdir -p "$dir/wheel" "$dir/pylib"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dir/wheel" "cqlsh==$CQLSH_VERSION" \
      || die "pip could not download cqlsh $CQLSH_VERSION"
    python3 -m zipfile -e "$dir"/wheel/cqlsh-*.whl "$dir/pylib"
    touch "$dir/.complete"
  fi
  CQLSH_DIR="$dir/pylib"
}

# Assembles the docker build context; hard links keep it cheap.
stage_context() {
  local version="$1" config_line="$2" ctx="$3"
  rm -rf "$ctx" && mkdir -p "$ctx/conf"
  cp -al "$LIB_DIR" "$ctx/lib"
  cp -a "$CQLSH_DIR" "$ctx/pylib"
  cp -a "$HERE/bin" "$ctx/bin"
  cp -a "$HERE/docker-entrypoint.sh" "$HERE/Dockerfile" "$ctx/"
  cp -a "$HERE/conf/common/." "$HERE/conf/$config_line/." "$ctx/conf/"
}

context_hash() {
  local ctx="$1"
  { echo "jre=$JRE_HASH"; declare -f stage_context;
    (cd "$ctx" && find . -type f -printf '%m %p\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha
}

build_cassandra() {
  local version="$1" java suite config_line tag="corral/cassandra:$1" start=$SECONDS
  read -r java suite config_line <<<"${LINE[$version]}"
  log "== cassandra $version (java $java, $suite, config line $config_line)"
  ensure_jre "$java"
  ensure_lib "$version"
  ensure_cqlsh
  local ctx="$CACHE/context/$version" hash
  stage_context "$version" "$config_line" "$ctx"
  hash="$(context_hash "$ctx")"
  if image_up_to_date "$tag" "$hash"; then
    log "$tag: up to date ($hash)"
    RESULTS+=("$tag: up to date")
    return
  fi
  log "$tag: docker build"
  docker build --force-rm -f "$ctx/Dockerfile" \
    --build-arg "JRE_IMAGE=corral/jre:$java" \
    --build-arg "CASSANDRA_VERSION=$version" \
    --label "$HASH_LABEL=$hash" \
    --label "org.opencontainers.image.version=$version" \
    --label "io.corral.java=$java" \
    -t "$tag" "$ctx" >"$CACHE/context/build-$version.log" 2>&1 \
    || { tail -n 30 "$CACHE/context/build-$version.log" >&2; die "docker build of $tag failed (log: $CACHE/context/build-$version.log)"; }
  log "$tag: built ($hash) in $((SECONDS - start)) s, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1000/1000}')"
  RESULTS+=("$tag: built in $((SECONDS - start)) s")
}

if (($# == 0)); then set -- "${ORDER[@]}"; fi
for version in "$@"; do
  [[ -n "${LINE[$version]:-}" ]] || die "version $version is not in versions.tsv or versions-by-hand.tsv (add a line there)"
done
RESULTS=()
for version in "$@"; do
  build_cassandra "$version"
done
log "summary:"
printf '  %s\n' "${RESULTS[@]}" >&2
