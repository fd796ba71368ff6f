#!/usr/bin/env bash
# Upgrades: from every earlier version shipped in sql/versions, ALTER EXTENSION noetl_vars
# UPDATE must keep every row exactly and leave a schema identical to a fresh install of the
# current version (tests/describe.sql). Uses the cluster in PGHOST/PGPORT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/noetl_vars_upgrade.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -z "${KEEP_UPGRADE_WORK:-}" ] || trap - EXIT
quiet() { psql -X -q -d postgres -c "SET client_min_messages = warning" "$@"; }
current=$(psql -X -At -d postgres -c "SELECT default_version FROM pg_available_extensions WHERE name = 'noetl_vars'")
olds=$(psql -X -At -d postgres -c "SELECT version FROM pg_available_extension_versions WHERE name = 'noetl_vars' AND version <> '$current' ORDER BY version")
[ -n "$olds" ] || { echo "FAIL upgrade: no earlier version is installed"; exit 1; }
fail=0
rows="SELECT execution_id, var_name, var_type, var_value::text, source_step, access_count, created_at, accessed_at FROM noetl.transient ORDER BY 1, 2"

quiet -c "DROP DATABASE IF EXISTS noetl_vars_fresh" -c "CREATE DATABASE noetl_vars_fresh"
psql -X -q -d noetl_vars_fresh -c "CREATE EXTENSION noetl_vars"
psql -X -q -d noetl_vars_fresh -f "$here/describe.sql" >"$work/fresh.txt"

for old in $olds; do
    db=noetl_vars_from_${old//./_}
    quiet -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<SQL
CREATE EXTENSION noetl_vars VERSION '$old';
SELECT noetl.set_vars(7205759403792793600, '{"big": 12345678901234567890123, "huge": 1e400, "s": "it''s", "n": null}', 'computed', 'prep');
SELECT noetl.render_vars(7205759403792793600, 'fetch', '{"data": {"users": [{"id": 7}]}}', '{"uid": "{{ result.users[0].id }}", "n": "{{ vars.big }}"}');
SELECT noetl.render_iteration(7205759403792793600, 'loop', '{"k": 1}', 0, 2, NULL, '{}');
SELECT noetl.get_var(7205759403792793600, 'uid');
SQL
    psql -X -At -d "$db" -c "$rows" >"$work/$old.before"
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "ALTER EXTENSION noetl_vars UPDATE"
    version=$(psql -X -At -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'noetl_vars'")
    psql -X -At -d "$db" -c "$rows" >"$work/$old.after"
    psql -X -q -d "$db" -f "$here/describe.sql" >"$work/$old.txt"
    # The upgraded extension works, new features included.
    works=$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" <<'SQL' | tail -1
SET noetl_vars.track_history = on;
CREATE TEMP TABLE out AS
    SELECT noetl.render_vars(7205759403792793600, 'after_upgrade', '{}', '{"sum": "{{ vars.uid + 1 }}"}')->>'sum' AS sum;
SELECT sum || '/' || (SELECT count(*) FROM noetl.transient_history) FROM out;
SQL
)
    # ... the set: scopes included (0.5.0).
    set_works=$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c \
        "SELECT noetl.apply_set(7205759403792793600, 's', '{\"step.n\": \"{{ ctx.uid + 1 }}\"}')->'step'->>'n'" 2>&1 | tail -1)
    # ... and re-running: an event delivered twice applies once, a resume reports its conflict
    # (0.6.0).
    rerun_works=$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" <<'SQL' 2>&1 | tail -1
SELECT noetl.render_vars(7205759403792793600, 'rerun', '{}', '{"r": "{{ (vars.r | default(0)) + 1 }}"}', event_id => 'e-1');
SELECT noetl.render_vars(7205759403792793600, 'rerun', '{}', '{"r": "{{ (vars.r | default(0)) + 1 }}"}', event_id => 'e-1');
SELECT (noetl.get_var(7205759403792793600, 'r'))::text || '/'
       || (noetl.resume_execution(7205759403792793600, '{"r": 5}', keep => 'runtime') -> 'conflicts' ? 'r')::text;
SQL
)
    quiet -c "DROP DATABASE $db"
    if [ "$rerun_works" = "1/true" ]; then
        echo "ok   upgrade $old -> $current: event ids and resume_execution work afterwards"
    else
        echo "FAIL upgrade $old -> $current: re-running after the upgrade got '$rerun_works', want '1/true'"; fail=1
    fi
    if [ "$version" != "$current" ]; then echo "FAIL upgrade from $old: extversion is $version, not $current"; fail=1; fi
    if [ "$(wc -l <"$work/$old.before")" -lt 8 ] || ! diff "$work/$old.before" "$work/$old.after"; then
        echo "FAIL upgrade from $old: rows changed"; fail=1
    else
        echo "ok   upgrade $old -> $current kept all $(wc -l <"$work/$old.before") rows exactly"
    fi
    if diff -u "$work/fresh.txt" "$work/$old.txt" >"$work/$old.diff"; then
        echo "ok   upgrade $old -> $current: schema identical to a fresh install ($(wc -l <"$work/fresh.txt") catalog facts)"
    else
        echo "FAIL upgrade $old -> $current: schema differs from a fresh install"; head -60 "$work/$old.diff"; fail=1
    fi
    if [ "$set_works" = "8" ]; then
        echo "ok   upgrade $old -> $current: apply_set works afterwards"
    else
        echo "FAIL upgrade $old -> $current: apply_set after the upgrade got '$set_works', want '8'"; fail=1
    fi
    if [ "$works" = "8/1" ]; then
        echo "ok   upgrade $old -> $current: render_vars and history work afterwards"
    else
        echo "FAIL upgrade $old -> $current: after the upgrade got '$works', want '8/1'"; fail=1
    fi
done

# An operator's choice of when the change triggers fire survives the update (0.4.0 replaces
# the update trigger: CREATE OR REPLACE TRIGGER alone would enable it again).
if grep -qx 0.3.0 <<<"$olds"; then
    quiet -c "DROP DATABASE IF EXISTS noetl_vars_trigger_state" -c "CREATE DATABASE noetl_vars_trigger_state"
    state=$(psql -X -q -At -v ON_ERROR_STOP=1 -d noetl_vars_trigger_state <<'SQL' | tail -1
CREATE EXTENSION noetl_vars VERSION '0.3.0';
ALTER TABLE noetl.transient ENABLE REPLICA TRIGGER transient_changed_update;
ALTER EXTENSION noetl_vars UPDATE;
SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'noetl.transient'::regclass AND tgname = 'transient_changed_update';
SQL
)
    quiet -c "DROP DATABASE noetl_vars_trigger_state"
    if [ "$state" = R ]; then
        echo "ok   upgrade 0.3.0 -> $current: the update trigger stays ENABLE REPLICA"
    else
        echo "FAIL upgrade 0.3.0 -> $current: the update trigger's state is '$state', not R (ENABLE REPLICA)"; fail=1
    fi
fi
# The application role's grants survive an update that changes a function's arguments (0.6.0
# gives the five write paths ttl: each is dropped and created anew).
if grep -qx 0.5.0 <<<"$olds"; then
    quiet -c "DROP DATABASE IF EXISTS noetl_vars_grants" -c "CREATE DATABASE noetl_vars_grants"
    quiet -c "DROP ROLE IF EXISTS noetl_vars_upgrade_app" -c "CREATE ROLE noetl_vars_upgrade_app"
    grants=$(psql -X -q -At -v ON_ERROR_STOP=1 -d noetl_vars_grants <<'SQL' | tail -1
CREATE EXTENSION noetl_vars VERSION '0.5.0';
GRANT USAGE ON SCHEMA noetl TO noetl_vars_upgrade_app;
GRANT EXECUTE ON FUNCTION noetl.set_var(bigint, text, jsonb, text, text),
    noetl.render_vars(bigint, text, jsonb, jsonb, jsonb, text) TO noetl_vars_upgrade_app;
GRANT EXECUTE ON FUNCTION noetl.apply_set(bigint, text, jsonb, jsonb, integer, text)
    TO noetl_vars_upgrade_app WITH GRANT OPTION;
ALTER EXTENSION noetl_vars UPDATE;
SELECT string_agg(p.proname || ':' || COALESCE((SELECT string_agg(a.privilege_type || CASE WHEN a.is_grantable THEN '+' ELSE '' END, ',')
                                       FROM aclexplode(p.proacl) a WHERE a.grantee = 'noetl_vars_upgrade_app'::regrole), '')
                  || ':' || has_function_privilege('public', p.oid, 'EXECUTE'), ' ' ORDER BY p.proname)
FROM pg_proc p
WHERE p.pronamespace = 'noetl'::regnamespace
  AND p.proname IN ('set_var', 'set_vars', 'render_vars', 'render_iteration', 'apply_set');
SQL
)
    quiet -c "DROP DATABASE noetl_vars_grants" -c "DROP ROLE noetl_vars_upgrade_app"
    want="apply_set:EXECUTE+:false render_iteration::false render_vars:EXECUTE:false set_var:EXECUTE:false set_vars::false"
    if [ "$grants" = "$want" ]; then
        echo "ok   upgrade 0.5.0 -> $current: EXECUTE grants on the functions that gained ttl are kept"
    else
        echo "FAIL upgrade 0.5.0 -> $current: grants after the update are '$grants', want '$want'"; fail=1
    fi
fi
quiet -c "DROP DATABASE noetl_vars_fresh"
exit $fail
