#!/usr/bin/env bash
# Runs the isolation specs in tests/isolation/specs against the running throwaway cluster
# (PGHOST/PGPORT) with PostgreSQL's isolation tester, comparing with tests/isolation/expected.
# Each spec interleaves sessions step by step, so every concurrency claim is checked
# deterministically. Prints the diff on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# Debian's isolation tester (15) drives any major: a libpq client of the server in PGPORT,
# with the psql of --bindir (PG_BIN).
ISOLATION=${ISOLATION:-/usr/lib/postgresql/15/lib/pgxs/src/test/isolation/pg_isolation_regress}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
out=${ISOLATION_OUT:-$(mktemp -d /tmp/noetl_vars_isolation.XXXXXX)}
specs=("$@")
if [ ${#specs[@]} -eq 0 ]; then
    for f in "$here"/tests/isolation/specs/*.spec; do specs+=("$(basename "$f" .spec)"); done
fi
mkdir -p "$out" && chmod 777 "$out" && out=$(cd "$out" && pwd)
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS noetl_vars_isolation" -c "CREATE DATABASE noetl_vars_isolation"
# The spec format ends a step at its first "}", so specs write templates with << >> and <% %>,
# and this helper turns them into {{ }} and {% %}.
psql -X -q -d noetl_vars_isolation -c "CREATE EXTENSION noetl_vars" -c "
CREATE FUNCTION public.t(template text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN replace(replace(replace(replace(template, '<<', '{{'), '>>', '}}'), '<%', '{%'), '%>', '%}');"
if ! "$ISOLATION" --use-existing --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --bindir="$PG_BIN" --inputdir="$here/tests/isolation" --outputdir="$out" \
        --dbname=noetl_vars_isolation "${specs[@]}"; then
    cat "$out/regression.diffs" 2>/dev/null | head -300
    echo "isolation specs failed; results in $out" >&2
    exit 1
fi
