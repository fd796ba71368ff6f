#!/usr/bin/env bash
# The whole test suite of noetl_vars, from a fresh machine (as root, or a user with sudo):
#   1. installs what is missing (scripts/setup.sh: Debian packages, cargo-pgrx, the servers
#      of PostgreSQL 16, 17 and 18)
#   2. formatting, lints and the pure-Rust tests of the core (cargo test)
#   3. on each of PostgreSQL 15, 16, 17 and 18: the #[pg_test]s (cargo pgrx test), then the
#      release build installed and the SQL-level suites on a throwaway cluster
#      (scripts/test_major.sh: pg_regress, isolation, corpus, concurrency, dump/restore,
#      upgrades; on 15 also change events, memory, settings at login and faults)
#   4. across majors: pg_dump 15 -> 16 -> 17 -> 18 and pg_upgrade to 18 (from 15, or from 16
#      where this 15 build refuses: tests/cross_major.sh); the Debian package
#      installed and removed with dpkg; META.json against the PGXN schema
# Exits non-zero if anything fails on any major. MAJORS="15 18" ./scripts/test.sh runs fewer
# majors and skips step 4.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
read -r -a majors <<<"${MAJORS:-${PG_MAJORS[*]}}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
started=$SECONDS
elapsed() { printf '(%d s so far)' $((SECONDS - started)); }

step "setup"
./scripts/setup.sh

step "formatting and lints (cargo fmt --check, cargo clippy -D warnings)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

step "core: pure-Rust tests (cargo test -p noetl_vars_core)"
cargo test -p noetl_vars_core

failed=()
for major in "${majors[@]}"; do
    step "[$major] pg_test: the functions inside PostgreSQL $major (cargo pgrx test pg$major) $(elapsed)"
    pgtest_data=/tmp/noetl_vars_pgtest$major
    rm -rf "$pgtest_data"
    cargo pgrx test "pg$major" --runas postgres --pgdata "$pgtest_data" || failed+=("[$major] pg_test")
    scope=core
    [ "$major" != 15 ] || scope=all
    scripts/test_major.sh "$major" "$scope" || failed+=("[$major] SQL-level suites")
done

if [ "${majors[*]}" = "${PG_MAJORS[*]}" ]; then
    step "across majors: pg_dump 15 -> 16 -> 17 -> 18, pg_upgrade to 18 $(elapsed)"
    tests/cross_major.sh || failed+=("across majors")
    step "Debian package: dpkg -i, CREATE EXTENSION, dpkg -r (PostgreSQL 15) $(elapsed)"
    tests/package.sh || failed+=("Debian package")
fi

step "done $(elapsed)"
if [ ${#failed[@]} -gt 0 ]; then
    printf '\n\033[1;31mFAILED: %s\033[0m\n' "${failed[*]}"
    exit 1
fi
printf '\n\033[1;32mall tests passed on PostgreSQL %s\033[0m\n' "${majors[*]}"
