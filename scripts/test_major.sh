#!/usr/bin/env bash
# The SQL-level suites of noetl_vars on one PostgreSQL major:
#   scripts/test_major.sh MAJOR [all]
# installs the release build into that major's server, starts a throwaway cluster of it (the
# library preloaded) and runs pg_regress files, isolation specs, the corpus, concurrency,
# dump/restore and upgrades; with `all` also change events, memory, settings at login,
# faults and the Python package. Exits non-zero if a suite fails or a backend dies by a signal.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
major=$1 scope=${2:-core}
PG_CONFIG=$(pg_config_for "$major")
PG_BIN=$("$PG_CONFIG" --bindir)
export PG_CONFIG PG_BIN PATH="$PG_BIN:$PATH"

step() { printf '\n\033[1m==> [%s] %s\033[0m\n' "$major" "$*"; }

step "install the release build into $("$PG_CONFIG" --pkglibdir)"
./scripts/install.sh >/dev/null

step "start a throwaway cluster"
source scripts/cluster.sh
cluster_dir=$(mktemp -d /tmp/noetl_vars_test$major.XXXXXX)
trap 'cluster_stop; rm -rf "$cluster_dir"' EXIT
cluster_start "$cluster_dir"
echo "PostgreSQL $(psql -X -At -c 'SHOW server_version') on socket $PGHOST, port $PGPORT"

failed=()
run_suite() {
    local name=$1; shift
    step "$name"
    if ! "$@"; then failed+=("[$major] $name"); fi
}
run_suite "SQL tests (pg_regress: tests/sql vs tests/expected)" scripts/regress.sh
run_suite "isolation specs (isolationtester: tests/isolation)" scripts/isolation.sh
run_suite "corpus: real NoETL templates against Jinja2 3.1's answers" tests/corpus.sh
run_suite "concurrency (pgbench, 8 sessions)" tests/concurrency.sh
run_suite "pg_dump / pg_restore round trip" tests/dump_restore.sh
run_suite "upgrades from earlier versions" tests/upgrade.sh
run_suite "encryption at rest: keys, rotation under writers, dump and data files (own cluster)" tests/encryption.sh
run_suite "docs/reference.md against the extension (SQLSTATEs, settings, functions, links)" tests/docs.py
run_suite "the docs' psql transcripts against a run of scripts/demo.sql" tests/transcript.py
if [ "$scope" = all ]; then
    run_suite "change events to a LISTEN client" tests/notify.sh
    run_suite "memory over 100,000 calls" tests/memory.sh
    run_suite "protected settings at login, with and without preloading (own clusters)" tests/settings.sh
    run_suite "faults: SIGKILL, immediate shutdown, cancel, terminate, ulimit -v (own cluster)" tests/faults.sh
    run_suite "the Python package: ruff, mypy, pytest, its wheel (python/)" scripts/python_test.sh
fi

step "server log: no backend terminated by a signal"
crashes=$(cluster_crashes)
if [ -n "$crashes" ]; then
    echo "$crashes"
    failed+=("[$major] crash check")
else
    echo "ok   no crashes"
fi
if [ ${#failed[@]} -gt 0 ]; then
    printf '\033[1;31mFAILED on PostgreSQL %s: %s\033[0m\n' "$major" "${failed[*]}"
    exit 1
fi
