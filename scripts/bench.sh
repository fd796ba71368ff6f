#!/usr/bin/env bash
# The benchmark suite: builds and installs the release build, starts a throwaway PostgreSQL 15
# cluster with durable commits (fsync on), runs bench/run.py (noetl_vars against the NoETL
# server's path and against plain SQL) and writes docs/benchmarks.md, bench/benchmarks.png and
# bench/results.json. About 20 minutes; `./scripts/bench.sh --runs 2 --duration 2` is quicker.
# The typical step's parts are also counted in instructions, under valgrind (about a minute, the
# cluster stopped meanwhile); `--no-instructions` leaves that out. The time of the step, of its
# write and of B1 is split by program object with `perf record` (Debian's linux-perf).
# `./scripts/bench.sh --compare` only counts the instructions of the typical step, apply_set,
# set_vars and baseline B1 and prints the change against bench/instructions.json (about a
# minute; `--compare --update` keeps this build's counts as the new reference).
# Needs root or sudo, like the other commands.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PATH="$(dirname "$PG_CONFIG"):$PATH"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

./scripts/setup.sh
if [[ " $* " != *" --no-instructions "* ]] && ! command -v valgrind >/dev/null; then
    say "installing valgrind (the instruction counts)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
if [[ " $* " != *" --compare "* ]] && ! command -v perf >/dev/null; then
    say "installing perf (the time of a call split by program object)"
    as_root apt-get update -qq || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-perf >/dev/null \
        || say "perf could not be installed: the report leaves that split out"
fi
venv=${BENCH_VENV:-$HOME/.cache/noetl_vars/bench-venv}
if [ ! -x "$venv/bin/python" ]; then
    say "creating the Python environment of baseline A in $venv"
    /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check 'psycopg[binary]>=3.1,<4' 'jinja2>=3.1,<3.2' 'matplotlib>=3.6,<4'

say "installing the release build"
./scripts/install.sh 2>&1 | grep -E "Finished|installed into|error" || true
say "building the core's timing program"
cargo build --release --quiet -p noetl_vars_core --example typical_step

source scripts/cluster.sh
dir=$(mktemp -d /tmp/noetl_vars_bench.XXXXXX)
trap 'cluster_stop; rm -rf "$dir"' EXIT
say "starting a throwaway cluster in $dir"
cluster_start "$dir" "fsync = on" "shared_buffers = 256MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min"

if [[ " $* " == *" --compare "* ]]; then
    say "instructions per call against bench/instructions.json"
    psql -X -q -d postgres -c "CREATE DATABASE noetl_vars_bench"
    psql -X -q -d noetl_vars_bench -c "CREATE EXTENSION noetl_vars" -f bench/server.sql >/dev/null
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -w -m fast stop >/dev/null
    update=()
    [[ " $* " != *" --update "* ]] || update=(--update)
    python3 bench/compare.py --pg-bin "$PG_BIN" --data-dir "$dir/data" "${update[@]}"
    exit 0
fi

say "running the benchmarks"
# (run.py stops and restarts the cluster around the instruction counts, hence its programs and data)
(cd bench && "$venv/bin/python" run.py --out ../docs/benchmarks.md --plot benchmarks.png --json results.json \
    --pg-bin "$PG_BIN" --data-dir "$dir/data" "$@")
crashes=$(cluster_crashes)
[ -z "$crashes" ] || { echo "$crashes"; exit 1; }
say "wrote docs/benchmarks.md, bench/benchmarks.png and bench/results.json"
