#!/usr/bin/env bash
# The whole test suite of noetl_vars, from a fresh machine (as root, or a user with sudo):
#   1. installs what is missing (scripts/setup.sh)
#   2. pure-Rust tests of the core (cargo test)
#   3. #[pg_test]s inside PostgreSQL (cargo pgrx test)
#   4. installs the release build, starts a throwaway cluster (library preloaded) and runs the
#      SQL-level suites: pg_regress files (tests/sql), isolation specs (tests/isolation),
#      concurrency, pg_dump round trip, upgrades, ..., and the suites with clusters of their
#      own (settings at login, faults)
# Exits non-zero if anything fails; the server log must show no backend killed by a signal.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PATH="$(dirname "$PG_CONFIG"):$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "setup"
./scripts/setup.sh

step "formatting and lints (cargo fmt --check, cargo clippy -D warnings)"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings

step "core: pure-Rust tests (cargo test -p noetl_vars_core)"
cargo test -p noetl_vars_core

step "pg_test: the functions inside PostgreSQL (cargo pgrx test)"
pgtest_data=/tmp/noetl_vars_pgtest
rm -rf "$pgtest_data"
cargo pgrx test pg15 --runas postgres --pgdata "$pgtest_data"

step "install the release build into $("$PG_CONFIG" --pkglibdir)"
./scripts/install.sh

step "start a throwaway cluster"
source scripts/cluster.sh
cluster_dir=$(mktemp -d /tmp/noetl_vars_test.XXXXXX)
trap 'cluster_stop; rm -rf "$cluster_dir"' EXIT
cluster_start "$cluster_dir"
echo "PostgreSQL $(psql -X -At -c 'SHOW server_version') on socket $PGHOST, port $PGPORT"

failed=()
run_suite() {
    local name=$1; shift
    step "$name"
    if ! "$@"; then failed+=("$name"); fi
}
run_suite "SQL tests (pg_regress: tests/sql vs tests/expected)" scripts/regress.sh
run_suite "isolation specs (isolationtester: tests/isolation)" scripts/isolation.sh
run_suite "corpus: real NoETL templates against Jinja2 3.1's answers" tests/corpus.sh
run_suite "concurrency (pgbench, 8 sessions)" tests/concurrency.sh
run_suite "pg_dump / pg_restore round trip" tests/dump_restore.sh
run_suite "upgrades from earlier versions" tests/upgrade.sh
run_suite "change events to a LISTEN client" tests/notify.sh
run_suite "memory over 100,000 calls" tests/memory.sh
run_suite "protected settings at login, with and without preloading (own clusters)" tests/settings.sh
run_suite "faults: SIGKILL, immediate shutdown, cancel, terminate, ulimit -v (own cluster)" tests/faults.sh

step "server log: no backend terminated by a signal"
crashes=$(cluster_crashes)
if [ -n "$crashes" ]; then
    echo "$crashes"
    failed+=("crash check")
else
    echo "ok   no crashes"
fi

if [ ${#failed[@]} -gt 0 ]; then
    printf '\n\033[1;31mFAILED: %s\033[0m\n' "${failed[*]}"
    exit 1
fi
printf '\n\033[1;32mall tests passed\033[0m\n'
