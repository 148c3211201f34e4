#!/bin/sh
# PostgreSQL's archive_command for the cluster's primary (run.sh cluster; README, Backups):
#   archive_command = '/path/to/wal-archive.sh "%p" "/backups/wal/%f"'
# A segment is copied under a temporary name, fsynced, renamed into place and the folder
# fsynced, so that the archive never holds a half-written segment under its real name. An
# existing segment is never overwritten: the same bytes (PostgreSQL retrying after a crash
# between our copy and its own note of it) count as archived; other bytes are an error, which
# PostgreSQL logs and retries (two clusters archiving into one folder, say).
set -eu
src=$1
dest=$2
if [ -f "$dest" ]; then
  if cmp -s "$src" "$dest"; then
    exit 0
  fi
  echo "wal-archive: $dest exists with other bytes: not overwritten" >&2
  exit 1
fi
tmp="$dest.partial.$$"
trap 'rm -f "$tmp"' EXIT
cp "$src" "$tmp"
sync "$tmp"
mv "$tmp" "$dest"
trap - EXIT
sync "$(dirname "$dest")"
