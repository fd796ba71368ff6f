#!/usr/bin/env bash
# Rows of noetl.transient and of the set: scopes' tables survive pg_dump and restore into a
# fresh database, every column exactly (values digit for digit, timestamps, counters). Uses
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
SQL
table="SELECT execution_id, var_name, var_type, var_value::text, source_step, access_count, created_at, accessed_at FROM noetl.transient
       UNION ALL SELECT execution_id, step || '/' || coalesce(iteration::text, '-') || '/' || var_name, 'step_vars', var_value::text, NULL, 0, created_at, updated_at FROM noetl.step_vars
       UNION ALL SELECT execution_id, playbook || '/' || var_name, 'workflow_vars', var_value::text, NULL, 0, created_at, updated_at FROM noetl.workflow_vars
       UNION ALL SELECT execution_id, var_name, 'global_vars', var_value::text, NULL, 0, created_at, updated_at FROM noetl.global_vars ORDER BY 1, 2, 3"
psql -X -At -d noetl_vars_dump_src -c "$table" >"$work/before.txt"
pg_dump -Fc -d noetl_vars_dump_src -f "$work/dump"
pg_restore -d noetl_vars_dump_dst "$work/dump"
psql -X -At -d noetl_vars_dump_dst -c "$table" >"$work/after.txt"
quiet -c "DROP DATABASE noetl_vars_dump_src" -c "DROP DATABASE noetl_vars_dump_dst"
rows=$(wc -l <"$work/before.txt")
if [ "$rows" -ne 11 ]; then echo "FAIL dump/restore: expected 11 rows before dumping, got $rows"; exit 1; fi
if diff "$work/before.txt" "$work/after.txt"; then
    echo "ok   pg_dump/pg_restore kept all $rows rows exactly"
else
    echo "FAIL dump/restore changed the rows (diff above)"; exit 1
fi
