#!/usr/bin/env bash
# Change events (noetl_vars.notify) seen by a real LISTEN client in a second session: one
# notification per changed execution and committing transaction, nothing for rolled-back
# work or tracked reads. Any role that can connect may LISTEN, so by default a payload says
# only which execution changed and how many variables; the names are sent only with
# noetl_vars.notify_names = on. Values never. Uses the cluster in PGHOST/PGPORT.
set -euo pipefail
db=noetl_vars_notify
work=$(mktemp -d /tmp/noetl_vars_notify.XXXXXX)
trap 'rm -rf "$work"' EXIT
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d $db -c "CREATE EXTENSION noetl_vars" -c "ALTER DATABASE $db SET noetl_vars.notify = on"
fail=0
# run NAMES: the scenario with noetl_vars.notify_names = NAMES; the payloads in $work/got.NAMES
run() {
psql -X -q -d $db -c "ALTER DATABASE $db SET noetl_vars.notify_names = $1"

psql -X -At -d $db >"$work/listener.out" 2>&1 <<'SQL' &
SET application_name = 'noetl_vars_listener';
LISTEN noetl_vars;
SELECT pg_sleep(3);
SQL
listener=$!
for _ in $(seq 100); do
    n=$(psql -X -At -d $db -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'noetl_vars_listener' AND query LIKE 'SELECT pg_sleep%'")
    [ "$n" = 1 ] && break
    sleep 0.1
done

psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
-- 1. One transaction changing two executions: one notification each.
BEGIN;
SELECT noetl.set_vars(1, '{"a": 1, "b": 2}');
SELECT noetl.render_vars(1, 's', '{}', '{"c": "{{ vars.a }}", "a": 10}');
SELECT noetl.set_var(2, 'customer_ada@example.com_ssn', '"secret value"');
COMMIT;
-- 2. Rolled back: nothing.
BEGIN;
SELECT noetl.set_var(3, 'never', '1');
ROLLBACK;
-- 3. A rolled-back savepoint: only what was kept.
BEGIN;
SELECT noetl.set_var(4, 'kept', '1');
SAVEPOINT s;
SELECT noetl.set_var(4, 'dropped', '1');
ROLLBACK TO s;
COMMIT;
-- 4. A tracked read is not a change.
SELECT noetl.get_var(1, 'a');
-- 5. Plain SQL writes are changes too.
UPDATE noetl.transient SET var_value = '5' WHERE execution_id = 1 AND var_name = 'b';
-- 6. Deletes.
SELECT noetl.cleanup_execution(2);
-- 7. A write with a lifetime is a change like any other, and so is the purge of it once it
--    has ended.
SELECT noetl.set_var(5, 'token', '"t"', ttl => interval '20 milliseconds');
SELECT pg_sleep(0.05);
SELECT noetl.purge_expired();
SQL
wait $listener
sed -n 's/^Asynchronous notification "noetl_vars" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p' \
    "$work/listener.out" >"$work/got.$1"
cp "$work/listener.out" "$work/listener.$1"
}
run off
run on
psql -X -q -d postgres -c "DROP DATABASE $db"

cat >"$work/want.off" <<'JSON'
{"execution_id": 1, "count": 3}
{"execution_id": 2, "count": 1}
{"execution_id": 4, "count": 1}
{"execution_id": 1, "count": 1}
{"execution_id": 2, "count": 1}
{"execution_id": 5, "count": 1}
{"execution_id": 5, "count": 1}
JSON
cat >"$work/want.on" <<'JSON'
{"execution_id": 1, "names": ["a", "b", "c"], "count": 3}
{"execution_id": 2, "names": ["customer_ada@example.com_ssn"], "count": 1}
{"execution_id": 4, "names": ["kept"], "count": 1}
{"execution_id": 1, "names": ["b"], "count": 1}
{"execution_id": 2, "names": ["customer_ada@example.com_ssn"], "count": 1}
{"execution_id": 5, "names": ["token"], "count": 1}
{"execution_id": 5, "names": ["token"], "count": 1}
JSON
for names in off on; do
    if diff "$work/want.$names" "$work/got.$names"; then
        echo "ok   NOTIFY noetl_vars (notify_names = $names): $(wc -l <"$work/got.$names") notifications, exactly the committed changes"
    else
        echo "FAIL NOTIFY noetl_vars (notify_names = $names): notifications differ (want left, got right)"
        cat "$work/listener.$names"; fail=1
    fi
    if grep -q "secret value" "$work/listener.$names"; then
        echo "FAIL NOTIFY noetl_vars: a value leaked into a payload"; fail=1
    fi
done
if grep -q "customer_ada" "$work/listener.off"; then
    echo "FAIL NOTIFY noetl_vars: a name reached a listener with notify_names off"; fail=1
fi
exit $fail
