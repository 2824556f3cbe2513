# Run by tasks/rollback_restore.yml as `sh -c "$(cat this)" rollback_restore TAG UP_TO BTI`, in a one-shot BusyBox
# container that sees the node's /var/lib/cassandra (volumes_from its data container), while the node is stopped.
# UP_TO: the last SSTable format letter the old version reads (m for 3.x, n for 4.x); BTI: yes when it reads d* (5.0).
# Brings the node's data back to its snapshot TAG: in each table directory, the files the newer version wrote (any
# file that is no SSTable component or transaction log of a format the old version reads) are moved aside into
# corral-rollback/TAG/ (a rename on the same file system: nothing is deleted), then the snapshot's files are
# hard-linked in. The old version's own files stay: those of the snapshot, and any it flushed after it (its drain),
# which it reads and which hold writes the snapshot lacks. The commit log, hints and saved caches are moved aside
# (the old version cannot replay the newer one's). Safe to run again: a node already restored (the `restored` mark)
# is left as it is, and an interrupted run keeps what it linked and goes on.
# Last line: state=restored moved=N linked=N at=EPOCH, or state=already at=EPOCH.
set -eu
TAG="$1"
UP_TO="${2:-m}"
BTI="${3:-no}"
ROOT="${CASSANDRA_ROOT:-/var/lib/cassandra}"  # the unit test points it elsewhere
KEEP="$ROOT/corral-rollback/$TAG"

if [ -f "$KEEP/restored" ]; then
  echo "state=already at=$(cat "$KEEP/restored")"
  exit 0
fi
# Without its own system.local the node would start as a new one: refuse before moving anything.
if ! ls -d "$ROOT"/data/system/local-*/snapshots/"$TAG" >/dev/null 2>&1; then
  echo "no snapshot $TAG of system.local under $ROOT/data/system: nothing was moved" >&2
  exit 3
fi
owner=$(stat -c %u:%g "$ROOT/data")
moved=0
linked=0

# aside PATH DEST: moved into the kept tree, under a free name (an interrupted run may have kept one of that name).
aside() {
  local dest="$2" n=1
  while [ -e "$dest" ] || [ -L "$dest" ]; do dest="$2.$n"; n=$((n + 1)); done
  mkdir -p "${dest%/*}"
  mv "$1" "$dest"
  moved=$((moved + 1))
}

# old_version_file NAME: whether the old version wrote it (an SSTable component or transaction log of a format it reads:
# mc-1-big-Data.db, mc_txn_compaction_<id>.log).
old_version_file() {
  case "$1" in
    d[a-z]-* | d[a-z]_txn_*) [ "$BTI" = yes ] ;;
    [a-"$UP_TO"][a-z]-* | [a-"$UP_TO"][a-z]_txn_*) true ;;
    *) false ;;
  esac
}

# restore_files LIVE SNAP KEEP: LIVE's files the newer version wrote moved to KEEP, then SNAP's linked in.
restore_files() {
  local live="$1" snap="$2" keep="$3" entry name
  for entry in "$live"/* "$live"/.[!.]*; do
    [ -f "$entry" ] || continue
    name="${entry##*/}"
    old_version_file "$name" && continue
    aside "$entry" "$keep/$name"
  done
  [ -d "$snap" ] || return 0
  for entry in "$snap"/* "$snap"/.[!.]*; do
    [ -f "$entry" ] || continue
    name="${entry##*/}"
    case "$name" in manifest.json | schema.cql) continue ;; esac
    [ -e "$live/$name" ] && continue
    ln "$entry" "$live/$name" 2>/dev/null || cp -p "$entry" "$live/$name"
    linked=$((linked + 1))
  done
}

for table in "$ROOT"/data/*/*/; do
  table="${table%/}"
  relative="${table#"$ROOT"/}"
  snap="$table/snapshots/$TAG"
  # A table without that snapshot is one the newer version created (the snapshot has every table of the old one,
  # empty ones too): what it holds is the newer version's, kept aside.
  restore_files "$table" "$snap" "$KEEP/$relative"
  # Secondary indexes live in .<index> directories, as in the snapshot.
  for index in "$table"/.[!.]*/ "$snap"/.[!.]*/; do
    [ -d "$index" ] || continue
    name="${index%/}"
    name="${name##*/}"
    [ -d "$table/$name" ] || { mkdir "$table/$name" && chown "$owner" "$table/$name"; }
    restore_files "$table/$name" "$snap/$name" "$KEEP/$relative/$name"
  done
done

for dir in commitlog hints saved_caches cdc_raw; do
  [ -d "$ROOT/$dir" ] || continue
  for entry in "$ROOT/$dir"/* "$ROOT/$dir"/.[!.]*; do
    [ -e "$entry" ] || continue
    aside "$entry" "$KEEP/$dir/${entry##*/}"
  done
done

mkdir -p "$KEEP"
chown -R "$owner" "$ROOT/corral-rollback"
at=$(date +%s)
echo "$at" >"$KEEP/restored.tmp" && mv "$KEEP/restored.tmp" "$KEEP/restored"
chown "$owner" "$KEEP/restored"
echo "state=restored moved=$moved linked=$linked at=$at"
