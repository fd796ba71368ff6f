#!/usr/bin/env bash
# Encryption at rest on a cluster of its own (docs/encryption.md): the data directory (what a
# base backup or a standby copies), its WAL and a pg_dump hold no plaintext of a sensitive
# variable, and a dump restores readable; 8 sessions writing sensitive counters while keys
# rotate lose nothing and leave every value under the new key; a wrong key, a missing key, a
# key file others may read, no key at all and a failing key command are clear errors (55000
# or 39000, never XX000 or a crash); a key command works, and a hanging one ends with the
# statement's cancel, killed; an application role can neither
# see nor set the key settings.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_BIN=${PG_BIN:-$(dirname "$(command -v postgres 2>/dev/null || echo /usr/lib/postgresql/15/bin/postgres)")}
source scripts/cluster.sh
dir=$(mktemp -d /tmp/noetl_vars_encryption.XXXXXX)
trap 'cluster_stop; rm -rf "$dir"' EXIT
cluster_start "$dir" "log_error_verbosity = verbose"
keys=$dir/noetl_vars.keys
DB=noetl_vars_encryption
work=$dir/work
mkdir -p "$work"
fail=0

q() { psql -X -At -d $DB -c "$1"; }
# state SQL: "ok", or the SQLSTATE of the error it raised.
state() {
    local out
    if out=$(psql -X -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d $DB -c "$1" 2>&1 >/dev/null); then
        echo ok
    else
        echo "$out" | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\).*/\1/p' | head -1
    fi
}
message() { psql -X -At -d $DB -c "$1" 2>&1 >/dev/null | sed -n 's/^ERROR:  //p' | head -1; }
check() {
    local name=$1 got=$2 want=$3
    if [ "$got" = "$want" ]; then echo "ok   $name: $got"; else echo "FAIL $name: got $got, want $want"; fail=1; fi
}
contains() {
    local name=$1 text=$2 want=$3
    if [[ $text == *"$want"* ]]; then echo "ok   $name"; else echo "FAIL $name: \"$text\" lacks \"$want\""; fail=1; fi
}
key_line() { echo "$1 $(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }
# ring LINE...: the key file now holds these keys (the first active), as the server user's alone.
ring() {
    printf '%s\n' "$@" | as_pg tee "$keys.new" >/dev/null
    as_pg chmod 600 "$keys.new"
    as_pg mv "$keys.new" "$keys"
}
reload() { psql -X -q -d postgres -c "SELECT pg_reload_conf()" >/dev/null; sleep 0.5; }

K1=$(as_pg cat "$keys")
psql -X -q -d postgres -c "CREATE DATABASE $DB"
q "CREATE EXTENSION noetl_vars" >/dev/null
q "ALTER DATABASE $DB SET noetl_vars.track_history = on" >/dev/null
q "SELECT noetl.declare_var('secret', sensitive => true)" >/dev/null
q "SELECT noetl.declare_var('ctr', sensitive => true)" >/dev/null
for e in $(seq 1 400); do echo "SELECT noetl.set_var($e, 'secret', '{\"v\": \"PLAINTEXT-MARKER-$e\"}');"; done \
    | psql -X -q -d $DB >/dev/null
q "SELECT noetl.apply_set(1, 's', '{\"step.secret\": \"PLAINTEXT-MARKER-STEP\", \"global.secret\": \"PLAINTEXT-MARKER-GLOBAL\"}')" >/dev/null
check "a sensitive value reads back" "$(q "SELECT noetl.get_var(7, 'secret')->>'v'")" "PLAINTEXT-MARKER-7"

echo "-- at rest: data directory, WAL, dump"
q "CHECKPOINT" >/dev/null
check "data files and WAL hold no plaintext" "$(grep -rla 'PLAINTEXT-MARKER' "$dir/data" | wc -l)" "0"
pg_dump -d $DB -f "$work/dump.sql"
check "pg_dump output holds no plaintext" "$(grep -c 'PLAINTEXT-MARKER' "$work/dump.sql" || true)" "0"
check "pg_dump output holds the sealed values" "$([ "$(grep -c 'noetl_vars_sealed' "$work/dump.sql" || true)" -ge 402 ] && echo yes)" "yes"
psql -X -q -d postgres -c "CREATE DATABASE ${DB}_restored"
psql -X -q -d ${DB}_restored -f "$work/dump.sql" >/dev/null 2>"$work/restore.err" || true
check "the restored dump reads back with the same keys" \
    "$(psql -X -At -d ${DB}_restored -c "SELECT noetl.get_var(9, 'secret')->>'v'")" "PLAINTEXT-MARKER-9"

echo "-- rotation under 8 concurrent writers"
K2=$(key_line k2)
ring "$K2" "$K1"
cat >"$work/writers.sql" <<'SQL'
\set e random(1001, 1004)
SELECT noetl.render_vars(:e, 'count', '{}', '{"ctr": "{{ vars.ctr | default(0) + 1 }}"}');
SQL
pgbench -n -c 8 -j 8 -t 200 -M prepared -f "$work/writers.sql" $DB >"$work/writers.log" 2>&1 &
writers=$!
psql -X -q -d $DB -c "CALL noetl.rotate_keys_all(50)" >"$work/rotate.log" 2>&1 || { echo "FAIL rotation during writes"; cat "$work/rotate.log"; fail=1; }
if ! wait $writers; then echo "FAIL writers"; tail -20 "$work/writers.log"; fail=1; fi
check "writers: every transaction processed" \
    "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/writers.log")" "1600"
psql -X -q -d $DB -c "CALL noetl.rotate_keys_all()" >>"$work/rotate.log" 2>&1
contains "rotation reports progress" "$(cat "$work/rotate.log")" "NOTICE:  noetl_vars key rotation to key k2"
check "counters exact after rotation" "$(q "SELECT sum((noetl.get_var(e, 'ctr'))::int) FROM generate_series(1001, 1004) e")" "1600"
check "values under another key left" "$(q "SELECT noetl.rotate_keys() ->> 'remaining'")" "0"
check "sealed values by key (tables and history)" \
    "$(q "SELECT string_agg(DISTINCT split_part(v ->> 'noetl_vars_sealed', '.', 2), ',')
          FROM (SELECT var_value v FROM noetl.transient UNION ALL SELECT var_value FROM noetl.step_vars
                UNION ALL SELECT var_value FROM noetl.global_vars UNION ALL SELECT new_value FROM noetl.transient_history
                UNION ALL SELECT old_value FROM noetl.transient_history) s WHERE v ? 'noetl_vars_sealed'")" "k2"
ring "$K2"
check "old key retired: every value still reads" "$(q "SELECT count(*) FROM generate_series(1, 400) e WHERE noetl.get_all_vars(e) #>> '{secret,v}' = 'PLAINTEXT-MARKER-' || e")" "400"
check "old key retired: templates read step and global values" \
    "$(q "SELECT noetl.apply_set(1, 's', '{\"ctx.seen\": \"{{ step.secret }}/{{ global.secret }}\"}') #>> '{ctx,seen}'")" \
    "PLAINTEXT-MARKER-STEP/PLAINTEXT-MARKER-GLOBAL"

echo "-- keys that do not open the values"
ring "$(key_line k2)"
check "a wrong key under the same id" "$(state "SELECT noetl.get_var(5, 'secret')")" "39000"
ring "$(key_line k3)"
check "a key the ring lost" "$(state "SELECT noetl.get_var(5, 'secret')")" "55000"
contains "  naming the key" "$(message "SELECT noetl.get_var(5, 'secret')")" 'encrypted with key "k2"'
ring "$K2"
as_pg chmod 644 "$keys"
check "a key file others may read" "$(state "SELECT noetl.get_var(5, 'secret')")" "55000"
contains "  saying so" "$(message "SELECT noetl.get_var(5, 'secret')")" "may be read or written by other users (mode 644)"
as_pg chmod 600 "$keys"
check "the key file fixed" "$(q "SELECT noetl.get_var(5, 'secret')->>'v'")" "PLAINTEXT-MARKER-5"

echo "-- no key, a key command"
q "ALTER SYSTEM SET noetl_vars.key_file = ''" >/dev/null
reload
check "no key configured: a sensitive write" "$(state "SELECT noetl.set_var(5, 'secret', '1')")" "55000"
check "no key configured: a sensitive read" "$(state "SELECT noetl.get_var(5, 'secret')")" "55000"
check "no key configured: other variables" "$(state "SELECT noetl.set_var(5, 'other', '1')")" "ok"
printf '#!/bin/sh\ncat %s\n' "$keys" | as_pg tee "$dir/getkey" >/dev/null
as_pg chmod 700 "$dir/getkey"
q "ALTER SYSTEM SET noetl_vars.key_command = '$dir/getkey'" >/dev/null
reload
check "a key command" "$(q "SELECT noetl.get_var(5, 'secret')->>'v'")" "PLAINTEXT-MARKER-5"
printf '#!/bin/sh\necho "vault sealed" >&2\nexit 3\n' | as_pg tee "$dir/failkey" >/dev/null
as_pg chmod 700 "$dir/failkey"
q "ALTER SYSTEM SET noetl_vars.key_command = '$dir/failkey'" >/dev/null
reload
check "a failing key command" "$(state "SELECT noetl.get_var(5, 'secret')")" "55000"
contains "  with what it said" "$(message "SELECT noetl.get_var(5, 'secret')")" "vault sealed"
printf '#!/bin/sh\nsleep 30\n' | as_pg tee "$dir/slowkey" >/dev/null
as_pg chmod 700 "$dir/slowkey"
q "ALTER SYSTEM SET noetl_vars.key_command = '$dir/slowkey'" >/dev/null
reload
started=$(date +%s)
check "a hanging key command ends with the statement's timeout" \
    "$(state "SET statement_timeout = '1s'; SELECT noetl.get_var(5, 'secret')")" "57014"
check "  within seconds, not the command's 10 s limit" "$([ $(( $(date +%s) - started )) -lt 6 ] && echo yes)" "yes"
check "  and the command is not left running" "$(pgrep -f "$dir/slowkey" | wc -l)" "0"
q "ALTER SYSTEM RESET noetl_vars.key_command" >/dev/null
q "ALTER SYSTEM RESET noetl_vars.key_file" >/dev/null
reload

echo "-- an application role"
q "CREATE ROLE enc_app LOGIN" >/dev/null
q "GRANT USAGE ON SCHEMA noetl TO enc_app" >/dev/null
check "cannot see the key file setting" \
    "$(psql -X -At -U enc_app -d $DB -v VERBOSITY=sqlstate -c "SHOW noetl_vars.key_file" 2>&1 | sed -n 's/^ERROR:  //p')" "42501"
check "cannot set it" \
    "$(psql -X -At -U enc_app -d $DB -v VERBOSITY=sqlstate -c "SET noetl_vars.key_file = '/tmp/x'" 2>&1 | sed -n 's/^ERROR:  //p')" "55P02"
check "cannot rotate" \
    "$(psql -X -At -U enc_app -d $DB -v VERBOSITY=sqlstate -c "SELECT noetl.rotate_keys()" 2>&1 | sed -n 's/^ERROR:  //p')" "42501"

crashes=$(cluster_crashes)
if grep -q "XX000" "$dir/server.log"; then echo "FAIL an internal error (XX000) was logged"; fail=1; fi
if [ -n "$crashes" ]; then echo "FAIL crash: $crashes"; fail=1; else echo "ok   no backend crashed"; fi
exit $fail
