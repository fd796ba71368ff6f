#!/usr/bin/env bash
# Rows of noetl.transient and of the set: scopes' tables, declarations and watches survive
# pg_dump and restore into a fresh database, every column exactly (values digit for digit, timestamps, counters), the
# deepest values the extension accepts included (deeper ones are refused on write). Uses
# the cluster in PGHOST/PGPORT.
set -euo pipefail
work=$(mktemp -d /tmp/noetl_vars_dump.XXXXXX)
chmod 777 "$work"
trap 'rm -rf "$work"' EXIT
quiet() { psql -X -q -d postgres -c "SET client_min_messages = warning" "$@"; }
quiet -c "DROP DATABASE IF EXISTS noetl_vars_dump_src" -c "DROP DATABASE IF EXISTS noetl_vars_dump_dst" \
      -c "CREATE DATABASE noetl_vars_dump_src" -c "CREATE DATABASE noetl_vars_dump_dst"
psql -X -q -d noetl_vars_dump_src >/dev/null <<'SQL'
CREATE EXTENSION noetl_vars;
SELECT noetl.set_vars(9007199254740993, '{"big": 12345678901234567890123, "huge": 1e400, "s": "it''s", "n": null, "o": {"a": [1, 2.50]}}', 'computed', 'prep');
SELECT noetl.render_vars(1, 'fetch', '{"data": {"id": 7}}', '{"id": "{{ result.id }}", "msg": "id={{ result.id }}"}');
SELECT noetl.get_var(1, 'id');
SELECT noetl.apply_set(1, 'loop', '{"step.n": 12345678901234567890123, "iter.i": "{{ iter.item }}", "workflow.w": [1, 2.50], "global.g": "it''s"}',
                       '{"iter": {"item": 1e400}}', iteration => 3, playbook => 'catalog/p');
-- The deepest values the extension accepts (10,000 levels), through set_var and through
-- apply_set wrapping a stored value in more levels (a pure path copies it whole).
SELECT noetl.set_var(2, 'deepest', (repeat('{"a": ', 10000) || '1' || repeat('}', 10000))::jsonb) IS NOT NULL;
SELECT noetl.apply_set(2, 'wrap', '{"step.d": "{{ seed }}"}', jsonb_build_object('seed', (repeat('{"a": ', 9900) || '1' || repeat('}', 9900))::jsonb)) IS NOT NULL;
SELECT noetl.apply_set(2, 'wrap', ('{"step.d": ' || repeat('{"b": ', 100) || '"{{ step.d }}"' || repeat('}', 100) || '}')::jsonb) IS NOT NULL;
-- A declaration made after a value it does not allow was stored (values are not re-checked),
-- and a watch: both are kept, and the stored value restores.
SELECT noetl.set_var(3, 'typed', '"stored before the declaration"');
SELECT noetl.declare_var('typed', '{"type": "integer"}');
SELECT noetl.watch(channel => 'dump_restore', execution_id => 3);
SQL
# One level more is refused (54001), naming the key; the dump below must restore.
refused=$(psql -X -At -d noetl_vars_dump_src -c "\set VERBOSITY sqlstate" \
    -c "SELECT noetl.apply_set(2, 'wrap', '{\"step.d\": {\"c\": \"{{ step.d }}\"}}')" 2>&1 || true)
if [ "$refused" = "ERROR:  54001" ]; then echo "ok   a 10,001-level value is refused (54001)"
else echo "FAIL a 10,001-level value: $refused"; exit 1; fi
table="SELECT execution_id, var_name, var_type, var_value::text, source_step, access_count, created_at, accessed_at FROM noetl.transient
       UNION ALL SELECT execution_id, step || '/' || coalesce(iteration::text, '-') || '/' || var_name, 'step_vars', var_value::text, NULL, 0, created_at, updated_at FROM noetl.step_vars
       UNION ALL SELECT execution_id, playbook || '/' || var_name, 'workflow_vars', var_value::text, NULL, 0, created_at, updated_at FROM noetl.workflow_vars
       UNION ALL SELECT execution_id, var_name, 'global_vars', var_value::text, NULL, 0, created_at, updated_at FROM noetl.global_vars ORDER BY 1, 2, 3"
psql -X -At -d noetl_vars_dump_src -c "$table" >"$work/before.txt"
pg_dump -Fc -d noetl_vars_dump_src -f "$work/dump"
pg_restore -d noetl_vars_dump_dst "$work/dump"
psql -X -At -d noetl_vars_dump_dst -c "$table" >"$work/after.txt"
kept="SELECT var_name, execution_id, playbook, schema::text, sensitive FROM noetl.declarations
      UNION ALL SELECT channel, execution_id, url, kinds::text, false FROM noetl.watches ORDER BY 1"
declared_before=$(psql -X -At -d noetl_vars_dump_src -c "$kept")
declared_after=$(psql -X -At -d noetl_vars_dump_dst -c "$kept")
refused_after=$(psql -X -At -d noetl_vars_dump_dst -c "\set VERBOSITY sqlstate" \
    -c "SELECT noetl.set_var(3, 'typed', '\"not an integer\"')" 2>&1 || true)
quiet -c "DROP DATABASE noetl_vars_dump_src" -c "DROP DATABASE noetl_vars_dump_dst"
rows=$(wc -l <"$work/before.txt")
if [ "$rows" -ne 14 ]; then echo "FAIL dump/restore: expected 14 rows before dumping, got $rows"; exit 1; fi
if [ -n "$declared_before" ] && [ "$declared_before" = "$declared_after" ] && [ "$refused_after" = "ERROR:  23514" ]; then
    echo "ok   declarations and watches survive pg_dump/pg_restore, and are enforced afterwards"
else
    echo "FAIL declarations or watches after restore: [$declared_before] vs [$declared_after], write: $refused_after"; exit 1
fi
if diff "$work/before.txt" "$work/after.txt"; then
    echo "ok   pg_dump/pg_restore kept all $rows rows exactly"
else
    echo "FAIL dump/restore changed the rows (diff above)"; exit 1
fi
