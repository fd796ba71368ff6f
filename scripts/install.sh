#!/usr/bin/env bash
# Builds noetl_vars in release mode for the major of PG_CONFIG (15 to 18; default Debian's 15)
# and installs it into that existing server:
#   PG_CONFIG=/path/to/pg_config ./scripts/install.sh
# Then add noetl_vars to shared_preload_libraries, restart, and in each database that should
# have it: CREATE EXTENSION noetl_vars; (docs/install.md, "Installing into an existing server").
#
# Files are put in place with install(1), which replaces a file (a new inode) instead of
# rewriting it: a running server that has the old library mapped keeps it until it restarts,
# where rewriting the mapped file in place would crash its processes.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
./scripts/setup.sh
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
major=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
tree=target/package/pg$major
rm -rf "$tree"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$tree"
# pgrx packages the current version's script and the upgrade scripts (sql/noetl_vars--A--B.sql);
# the scripts of earlier versions let `CREATE EXTENSION noetl_vars VERSION '…'` install them.
extdir=$("$PG_CONFIG" --sharedir)/extension
mkdir -p "$tree$extdir"
cp sql/versions/noetl_vars--*.sql "$tree$extdir/"
(cd "$tree" && find . -type f | sed 's|^\.||') | while read -r file; do
    mode=644
    case "$file" in *.so) mode=755 ;; esac
    as_root install -D -m "$mode" "$tree$file" "$file"
done
echo "installed into $("$PG_CONFIG" --pkglibdir) and $extdir"
echo "now: shared_preload_libraries = 'noetl_vars' (restart), then CREATE EXTENSION noetl_vars;"
