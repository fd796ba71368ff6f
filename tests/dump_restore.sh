#!/usr/bin/env bash
# Rows of noetl.transient survive pg_dump and restore into a fresh database, every column
# exactly (values digit for digit, timestamps, counters). Uses the cluster in PGHOST/PGPORT.
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
SQL
table="SELECT execution_id, var_name, var_type, var_value::text, source_step, access_count, created_at, accessed_at FROM noetl.transient ORDER BY 1, 2"
psql -X -At -d noetl_vars_dump_src -c "$table" >"$work/before.txt"
pg_dump -Fc -d noetl_vars_dump_src -f "$work/dump"
pg_restore -d noetl_vars_dump_dst "$work/dump"
psql -X -At -d noetl_vars_dump_dst -c "$table" >"$work/after.txt"
quiet -c "DROP DATABASE noetl_vars_dump_src" -c "DROP DATABASE noetl_vars_dump_dst"
rows=$(wc -l <"$work/before.txt")
if [ "$rows" -ne 7 ]; then echo "FAIL dump/restore: expected 7 rows before dumping, got $rows"; exit 1; fi
if diff "$work/before.txt" "$work/after.txt"; then
    echo "ok   pg_dump/pg_restore kept all $rows rows exactly"
else
    echo "FAIL dump/restore changed the rows (diff above)"; exit 1
fi
