#!/usr/bin/env bash
# The main job: builds and installs noetl_vars, starts a throwaway cluster of its own (of the
# server of PG_CONFIG, default Debian's 15), creates the extension and walks through one NoETL execution (scripts/demo.sql).
# Nothing is left running afterwards. Run as root or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_BIN=$("$PG_CONFIG" --bindir)
export PG_CONFIG PG_BIN PATH="$PG_BIN:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "building and installing noetl_vars (release build; the first one takes a few minutes)"
install_log=$(mktemp)
./scripts/install.sh >"$install_log" 2>&1 || { cat "$install_log"; rm -f "$install_log"; exit 1; }
grep -E "Finished|installed into" "$install_log" || true
rm -f "$install_log"

source scripts/cluster.sh
dir=$(mktemp -d /tmp/noetl_vars_demo.XXXXXX)
trap 'cluster_stop; rm -rf "$dir"' EXIT
say "starting a throwaway PostgreSQL $("$PG_CONFIG" --version | sed 's/^PostgreSQL //') cluster in $dir"
cluster_start "$dir"

say "walking through one execution"
psql -X -v ON_ERROR_STOP=1 -f scripts/demo.sql

crashes=$(cluster_crashes)
[ -z "$crashes" ] || { echo "$crashes"; exit 1; }
say "done; the cluster is stopped and removed"
