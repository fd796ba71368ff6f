#!/usr/bin/env bash
# Faults, on a cluster of its own (it kills backends on purpose): a backend killed with
# SIGKILL in the middle of a render_vars transaction, and the whole cluster stopped in
# immediate mode; after recovery every committed variable is there and nothing of the open
# transaction is. A long render is cancelled promptly by statement_timeout and by
# pg_cancel_backend.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cluster.sh
dir=$(mktemp -d /tmp/noetl_vars_faults.XXXXXX)
trap 'cluster_stop; rm -rf "$dir"' EXIT
unset PGPORT_WANTED
cluster_start "$dir" "restart_after_crash = on"
fail=0
q() { psql -X -At -d postgres -c "$1"; }
check() {
    if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got $2, want $3"; fail=1; fi
}
wait_ready() {
    for _ in $(seq 300); do
        psql -X -At -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "FAIL the cluster did not come back"; exit 1
}
# victim NAME SQL: runs SQL in the background under application_name NAME, waits until it sleeps.
victim() {
    psql -X -q -d postgres -c "SET application_name = '$1'" -c "BEGIN" -c "$2" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
    for _ in $(seq 300); do
        pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND query LIKE 'SELECT pg_sleep%'")
        [ -n "$pid" ] && return 0
        sleep 0.1
    done
    echo "FAIL $1 never got to its sleep"; exit 1
}

q "CREATE EXTENSION noetl_vars" >/dev/null
q "SELECT noetl.render_vars(1, 's', '{}', '{\"committed\": 1, \"also\": \"{{ 1 + 1 }}\"}')" >/dev/null

# SIGKILL in the middle of a transaction that rendered and wrote variables.
victim killed "SELECT noetl.render_vars(1, 's', '{}', '{\"uncommitted\": 1, \"committed\": 99}')"
kill -KILL "$pid"
sleep 0.5
wait_ready
check "SIGKILL mid-transaction: committed kept, uncommitted gone" \
    "$(q "SELECT noetl.get_all_vars(1)")" '{"also": 2, "committed": 1}'
grep -q "terminated by signal 9" "$dir/server.log" && echo "ok   (the server log shows the killed backend and the recovery)"

# Immediate shutdown with a transaction open.
q "SELECT noetl.render_vars(1, 's', '{}', '{\"before_stop\": 3}')" >/dev/null
victim stopped "SELECT noetl.set_vars(1, '{\"lost\": 1, \"committed\": 100}')"
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
as_pg env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
wait_ready
check "immediate shutdown: committed kept, open transaction gone" \
    "$(q "SELECT noetl.get_all_vars(1)")" '{"also": 2, "committed": 1, "before_stop": 3}'

# A render that only cancellation can stop: fuel raised, 10^10 loop iterations.
endless='{"x": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"}'
start=$(date +%s%N)
out=$(psql -X -At -d postgres -c "SET noetl_vars.template_fuel = 2000000000" -c "SET statement_timeout = '300ms'" \
      -c "SELECT noetl.render_vars(2, 's', '{}', '$endless')" 2>&1 || true)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if echo "$out" | grep -q "canceling statement due to statement timeout" && [ "$ms" -lt 3000 ]; then
    echo "ok   statement_timeout of 300 ms stopped a long render after ${ms} ms"
else
    echo "FAIL statement_timeout: after ${ms} ms: $out"; fail=1
fi

psql -X -At -d postgres -c "SET application_name = 'cancelled'" -c "SET noetl_vars.template_fuel = 2000000000" \
     -c "SELECT noetl.render_vars(2, 's', '{}', '$endless')" >"$dir/cancelled.out" 2>&1 &
bg=$!
for _ in $(seq 300); do
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'cancelled' AND query LIKE '%render_vars%'")
    [ -n "$pid" ] && break
    sleep 0.05
done
sleep 0.5
start=$(date +%s%N)
q "SELECT pg_cancel_backend($pid)" >/dev/null
wait $bg || true
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if grep -q "canceling statement due to user request" "$dir/cancelled.out" && [ "$ms" -lt 3000 ]; then
    echo "ok   pg_cancel_backend stopped a long render after ${ms} ms"
else
    echo "FAIL pg_cancel_backend: after ${ms} ms: $(cat "$dir/cancelled.out")"; fail=1
fi
check "cancelled renders stored nothing" "$(q "SELECT noetl.get_all_vars(2)")" '{}'
exit $fail
