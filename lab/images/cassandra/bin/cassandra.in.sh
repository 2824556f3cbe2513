# Shared by bin/cassandra and bin/nodetool: where things are, which Java runs, and
# how the jvm*.options files are read (the same file names as upstream's conf/).
# shellcheck shell=bash
CASSANDRA_HOME="${CASSANDRA_HOME:-/opt/cassandra}"
CASSANDRA_CONF="${CASSANDRA_CONF:-/etc/cassandra}"
CASSANDRA_LOG_DIR="${CASSANDRA_LOG_DIR:-/var/log/cassandra}"
CASSANDRA_DATA_DIR="${CASSANDRA_DATA_DIR:-/var/lib/cassandra}"
JMX_PORT="${JMX_PORT:-7199}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
CLASSPATH="$CASSANDRA_CONF:$CASSANDRA_HOME/lib/*"

# 8, 11, 17...: "1.8.0_462" -> 8, "17.0.15" -> 17.
java_major() {
  local v
  v="$("$JAVA" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  v="${v#1.}"
  echo "${v%%[._-]*}"
}
JAVA_MAJOR="$(java_major)"

# Appends the options of the named files (if present, in order) to the array OPTS.
# '#' starts a comment line; words are split on blanks as upstream does, so that
# "--add-exports java.base/..." becomes the two arguments the JVM expects.
read_options() {
  local file line words
  for file in "$@"; do
    [[ -f "$CASSANDRA_CONF/$file" ]] || continue
    while IFS= read -r line || [[ -n "$line" ]]; do
      read -ra words <<<"$line"
      ((${#words[@]})) && [[ "${words[0]}" != \#* ]] || continue
      OPTS+=("${words[@]}")
    done <"$CASSANDRA_CONF/$file"
  done
}
