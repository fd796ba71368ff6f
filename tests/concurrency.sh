#!/usr/bin/env bash
# No lost updates (docs/reference.md, `render_vars`: concurrency): 8 sessions each incrementing one counter 1000 times
# through render_vars must leave exactly 8000, starting with and without an existing row, and
# render_iteration's {step}_count must count every iteration; two blocks writing the same
# variables in opposite orders must not deadlock; plain SQL writers and the functions on one
# variable lose nothing; blocks reading names known only at run time, or enumerating, never
# deadlock; apply_set's parallel iterations (each with its own iteration, half of them inside
# transaction blocks with a second call) count exactly in every scope, and two executions of
# one playbook count its workflow and the global value exactly; events redelivered by 8
# workers apply once each; declared (typed) counters and sensitive (encrypted) ones count exactly. Uses the cluster in PGHOST/PGPORT.
set -euo pipefail
CLIENTS=${CLIENTS:-8}
PER_CLIENT=${PER_CLIENT:-1000}
EXPECTED=$((CLIENTS * PER_CLIENT))
DB=noetl_vars_concurrency
work=$(mktemp -d /tmp/noetl_vars_concurrency.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -d $DB -c "CREATE EXTENSION noetl_vars"
q() { psql -X -At -d $DB -c "$1"; }

# bench NAME SCRIPT...: runs pgbench, fails the test on any failed transaction.
bench() {
    local name=$1; shift
    local args=()
    for s in "$@"; do args+=(-f "$s"); done
    if ! pgbench -n -c "$CLIENTS" -j "$CLIENTS" -t "$PER_CLIENT" -M prepared "${args[@]}" $DB >"$work/$name.log" 2>&1; then
        echo "FAIL $name: pgbench failed"; tail -20 "$work/$name.log"; fail=1; return
    fi
    local done_tx
    done_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/$name.log")
    if [ "$done_tx" != "$EXPECTED" ]; then
        echo "FAIL $name: $done_tx of $EXPECTED transactions processed"; tail -20 "$work/$name.log"; fail=1
    fi
    grep "^tps" "$work/$name.log" | head -1 | sed "s/^/      $name: /"
}

check() {
    local name=$1 got=$2 want=$3
    if [ "$got" = "$want" ]; then echo "ok   $name: $got"; else echo "FAIL $name: got $got, want $want"; fail=1; fi
}

cat >"$work/counter_new.sql" <<'SQL'
SELECT noetl.render_vars(7001, 'count', '{}', '{"counter": "{{ vars.counter | default(0) + 1 }}"}');
SQL
bench counter_without_row "$work/counter_new.sql"
check "render_vars counter, no row at start" "$(q "SELECT noetl.get_all_vars(7001)->'counter'")" "$EXPECTED"

q "SELECT noetl.set_var(7002, 'counter', '0')" >/dev/null
sed 's/7001/7002/' "$work/counter_new.sql" >"$work/counter_existing.sql"
bench counter_with_row "$work/counter_existing.sql"
check "render_vars counter, existing row" "$(q "SELECT noetl.get_all_vars(7002)->'counter'")" "$EXPECTED"

cat >"$work/iteration.sql" <<'SQL'
\set i random(0, 99999)
SELECT noetl.render_iteration(7003, 'loop', jsonb_build_object('i', :i::int), :i, 8000, NULL, '{"seen": "{{ vars.seen | default(0) + 1 }}"}');
SQL
bench iterations "$work/iteration.sql"
check "render_iteration {step}_count" "$(q "SELECT noetl.get_all_vars(7003)->'loop_count'")" "$EXPECTED"
check "render_iteration block counter" "$(q "SELECT noetl.get_all_vars(7003)->'seen'")" "$EXPECTED"

# Same variables, opposite orders in the block: sorted locking means no deadlock.
cat >"$work/ab.sql" <<'SQL'
SELECT noetl.render_vars(7004, 'ab', '{}', '{"a": "{{ vars.a | default(0) + 1 }}", "b": "{{ vars.b | default(0) + 1 }}"}');
SQL
cat >"$work/ba.sql" <<'SQL'
SELECT noetl.render_vars(7004, 'ba', '{}', '{"b": "{{ vars.b | default(0) + 1 }}", "a": "{{ vars.a | default(0) + 1 }}"}');
SQL
bench opposite_orders "$work/ab.sql" "$work/ba.sql"
check "two blocks, opposite orders: a" "$(q "SELECT noetl.get_all_vars(7004)->'a'")" "$EXPECTED"
check "two blocks, opposite orders: b" "$(q "SELECT noetl.get_all_vars(7004)->'b'")" "$EXPECTED"

# Two counters read and written by the same block.
cat >"$work/mixed.sql" <<'SQL'
SELECT noetl.render_vars(7005, 'mix', '{}', '{"n": "{{ vars.n | default(0) + 1 }}", "total": "{{ vars.total | default(0) + 1 }}"}');
SQL
bench mixed_block "$work/mixed.sql"
check "two counters in one block" "$(q "SELECT (noetl.get_all_vars(7005)->>'n')::int + (noetl.get_all_vars(7005)->>'total')::int")" "$((2 * EXPECTED))"

# Plain SQL writers and render_vars on the same counter: the block row-locks what it reads
# and writes, so no increment is lost whoever makes it.
q "SELECT noetl.set_var(7006, 'counter', '0')" >/dev/null
cat >"$work/plain.sql" <<'SQL'
UPDATE noetl.transient SET var_value = pg_catalog.to_jsonb((var_value)::int + 1) WHERE execution_id = 7006 AND var_name = 'counter';
SQL
sed 's/7001/7006/' "$work/counter_new.sql" >"$work/render_7006.sql"
bench plain_sql_and_render "$work/plain.sql" "$work/render_7006.sql"
check "plain UPDATEs and render_vars on one counter" "$(q "SELECT noetl.get_all_vars(7006)->'counter'")" "$EXPECTED"

# Names known only at run time, in mirror: each block reads the other's variable by a name
# from its result. Locked up front, so no transaction fails with a deadlock.
cat >"$work/dyn_x.sql" <<'SQL'
SELECT noetl.render_vars(7007, 'x', '{"k": "y"}', '{"x": "{{ vars[result.k] | default(0) + 1 }}", "nx": "{{ vars.nx | default(0) + 1 }}"}');
SQL
cat >"$work/dyn_y.sql" <<'SQL'
SELECT noetl.render_vars(7007, 'y', '{"k": "x"}', '{"y": "{{ vars[result.k] | default(0) + 1 }}", "ny": "{{ vars.ny | default(0) + 1 }}"}');
SQL
cat >"$work/enumerate.sql" <<'SQL'
SELECT noetl.render_vars(7007, 'sum', '{}', '{"sum": "{{ vars.values() | select(\"number\") | sum }}", "ns": "{{ vars.ns | default(0) + 1 }}"}');
SQL
bench run_time_names_and_enumeration "$work/dyn_x.sql" "$work/dyn_y.sql" "$work/enumerate.sql"
check "run-time names and enumeration: every block counted" \
    "$(q "SELECT (noetl.get_var(7007, 'nx'))::int + (noetl.get_var(7007, 'ny'))::int + (noetl.get_var(7007, 'ns'))::int")" "$EXPECTED"

# set: blocks (docs/set-blocks.md): parallel iterations of one loop, each its own iteration, increment the
# step's, the execution's, the playbook's and the global counter; a second script does the
# same inside a transaction block with a second call of another execution of the playbook.
cat >"$work/set_iter.sql" <<'SQL'
\set i random(0, 999999)
SELECT noetl.apply_set(7008, 'loop', '{"iter.seen": "{{ iter.item }}", "step.n": "{{ (step.n | default(0)) + 1 }}", "ctx.total": "{{ (ctx.total | default(0)) + 1 }}", "workflow.runs": "{{ (workflow.runs | default(0)) + 1 }}", "global.c7008": "{{ (global.c7008 | default(0)) + 1 }}"}',
                       jsonb_build_object('iter', jsonb_build_object('item', :i::int)), iteration => :i::int, playbook => 'bench/pb');
SQL
cat >"$work/set_block.sql" <<'SQL'
\set i random(0, 999999)
BEGIN;
SELECT noetl.apply_set(7009, 'other', '{"workflow.runs": "{{ (workflow.runs | default(0)) + 1 }}"}', playbook => 'bench/pb');
SELECT noetl.apply_set(7008, 'loop', '{"iter.seen": "{{ iter.item }}", "step.n": "{{ (step.n | default(0)) + 1 }}", "ctx.total": "{{ (ctx.total | default(0)) + 1 }}", "global.c7008": "{{ (global.c7008 | default(0)) + 1 }}"}',
                       jsonb_build_object('iter', jsonb_build_object('item', :i::int)), iteration => :i::int, playbook => 'bench/pb');
COMMIT;
SQL
bench set_parallel_iterations "$work/set_iter.sql" "$work/set_block.sql"
ctx=$(q "SELECT noetl.context_vars(7008, 'loop', playbook => 'bench/pb')")
check "apply_set step.n over parallel iterations" "$(q "SELECT '$ctx'::jsonb->'step'->'n'")" "$EXPECTED"
check "apply_set ctx.total over parallel iterations" "$(q "SELECT '$ctx'::jsonb->'ctx'->'total'")" "$EXPECTED"
check "apply_set global counter" "$(q "SELECT '$ctx'::jsonb->'global'->'c7008'")" "$EXPECTED"
check "apply_set workflow.runs from two executions" "$(q "SELECT '$ctx'::jsonb->'workflow'->'runs'")" "$EXPECTED"
check "apply_set: every iteration kept its own value" \
    "$(q "SELECT count(*) FILTER (WHERE var_value <> to_jsonb(iteration)) FROM noetl.step_vars WHERE execution_id = 7008 AND var_name = 'seen'")" "0"
q "DELETE FROM noetl.global_vars WHERE var_name = 'c7008'; DELETE FROM noetl.workflow_vars WHERE playbook = 'bench/pb'" >/dev/null

# Redelivered events (docs/reference.md, "Re-running: redelivered events"): 8 workers deliver
# events drawn from 2000 ids (each about four times), half through render_vars and half
# through apply_set, each incrementing one counter. Applied at most once and never lost: the
# counter is the number of distinct ids delivered, and each applied event saw its own value.
cat >"$work/events.sql" <<'SQL'
\set e random(1, 2000)
SELECT CASE WHEN :e % 2 = 0
    THEN noetl.render_vars(7010, 'count', '{}', '{"counter": "{{ vars.counter | default(0) + 1 }}"}', event_id => 'evt-' || :e)
    ELSE noetl.apply_set(7010, 'count', '{"ctx.counter": "{{ ctx.counter | default(0) + 1 }}"}', event_id => 'evt-' || :e) END;
SQL
bench redelivered_events "$work/events.sql"
events=$(q "SELECT count(*) FROM noetl.applied_events WHERE execution_id = 7010")
check "redelivered events: the counter counts each distinct event once" "$(q "SELECT noetl.get_var(7010, 'counter')")" "$events"
check "redelivered events: each applied event saw its own count" \
    "$(q "SELECT count(DISTINCT COALESCE(result->>'counter', result->'ctx'->>'counter')) FROM noetl.applied_events WHERE execution_id = 7010")" "$events"
if [ "$events" -lt 1500 ]; then echo "FAIL redelivered events: only $events distinct events delivered"; fail=1; fi

# Typed variables: 8 sessions increment declared counters (an integer schema on the execution
# variable and on a step-scoped one) through render_vars and apply_set, half of them also
# writing a declared object; exact, and no deadlock or failed transaction.
q "SELECT noetl.declare_var('typed_counter', '{\"type\": \"integer\", \"minimum\": 0}')" >/dev/null
q "SELECT noetl.declare_var('typed_cfg', '{\"type\": \"object\", \"required\": [\"n\"]}', execution_id => 7011)" >/dev/null
cat >"$work/typed.sql" <<'SQL'
\set k random(0, 1)
SELECT CASE WHEN :k = 0
    THEN noetl.render_vars(7011, 'count', '{}', '{"typed_counter": "{{ vars.typed_counter | default(0) + 1 }}", "typed_cfg": {"n": "{{ 1 }}"}}')
    ELSE noetl.apply_set(7011, 'count', '{"ctx.typed_counter": "{{ ctx.typed_counter | default(0) + 1 }}", "step.typed_counter": "{{ step.typed_counter | default(0) + 1 }}"}') END;
SQL
bench typed_counters "$work/typed.sql"
check "declared counter through render_vars and apply_set" "$(q "SELECT noetl.get_var(7011, 'typed_counter')")" "$EXPECTED"

# Encryption at rest: 8 sessions increment sensitive counters (sealed on every write, opened
# on every read) in the execution and in a step's scope; exact, and stored only sealed.
q "SELECT noetl.declare_var('sealed_counter', sensitive => true)" >/dev/null
cat >"$work/sealed.sql" <<'SQL'
\set k random(0, 1)
SELECT CASE WHEN :k = 0
    THEN noetl.render_vars(7012, 'count', '{}', '{"sealed_counter": "{{ vars.sealed_counter | default(0) + 1 }}"}')
    ELSE noetl.apply_set(7012, 'count', '{"ctx.sealed_counter": "{{ ctx.sealed_counter | default(0) + 1 }}", "step.sealed_counter": "{{ step.sealed_counter | default(0) + 1 }}"}') END;
SQL
bench sealed_counters "$work/sealed.sql"
check "sensitive counter through render_vars and apply_set" "$(q "SELECT noetl.get_var(7012, 'sealed_counter')")" "$EXPECTED"
check "sensitive counter stored sealed" \
    "$(q "SELECT var_value ? 'noetl_vars_sealed' FROM noetl.transient WHERE execution_id = 7012 AND var_name = 'sealed_counter'")" "t"

psql -X -q -d postgres -c "DROP DATABASE $DB"
exit $fail
