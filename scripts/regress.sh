#!/usr/bin/env bash
# Runs the SQL tests in tests/sql against the running throwaway cluster (PGHOST/PGPORT) with
# PostgreSQL's pg_regress, comparing with tests/expected. Prints the diff on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# Debian's pg_regress (15) drives any major: it only runs the psql of --bindir (PG_BIN).
PG_REGRESS=${PG_REGRESS:-/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
out=${REGRESS_OUT:-$(mktemp -d /tmp/noetl_vars_regress.XXXXXX)}
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    for f in "$here"/tests/sql/*.sql; do tests+=("$(basename "$f" .sql)"); done
fi
mkdir -p "$out" && chmod 777 "$out" && out=$(cd "$out" && pwd)
# pg_regress feeds each file to psql on stdin, so `\ir helpers.psql` resolves against the
# working directory.
cd "$here/tests/sql"
# With --use-existing pg_regress neither drops nor creates the database; start from a fresh one.
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS noetl_vars_regress" -c "CREATE DATABASE noetl_vars_regress"
if ! "$PG_REGRESS" --use-existing --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --bindir="$PG_BIN" --inputdir="$here/tests" --outputdir="$out" \
        --dbname=noetl_vars_regress "${tests[@]}"; then
    cat "$out/regression.diffs" 2>/dev/null | head -300
    echo "SQL tests failed; results in $out" >&2
    exit 1
fi
