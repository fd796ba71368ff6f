-- Least privilege and a hostile search_path.
\ir helpers.psql

-- Nothing is usable by PUBLIC.
SELECT c.relname, has_table_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, DELETE') AS public_can_use
FROM pg_class c WHERE c.relnamespace = 'noetl'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1;
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'noetl_vars')
ORDER BY p.oid::regprocedure::text COLLATE "C";

-- The application role of docs/security.md gets exactly this.
CREATE ROLE noetl_vars_app NOLOGIN;
CREATE ROLE noetl_vars_nobody NOLOGIN;
GRANT USAGE ON SCHEMA noetl TO noetl_vars_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON noetl.transient, noetl.applied_events TO noetl_vars_app;
GRANT EXECUTE ON FUNCTION
    noetl.set_var(bigint, text, jsonb, text, text, interval), noetl.get_var(bigint, text),
    noetl.get_all_vars(bigint), noetl.set_vars(bigint, jsonb, text, text, interval),
    noetl.delete_var(bigint, text), noetl.cleanup_execution(bigint),
    noetl.vars_list(bigint), noetl.vars_get(bigint, text), noetl.vars_delete(bigint, text),
    noetl.vars_cleanup(bigint), noetl.render_vars(bigint, text, jsonb, jsonb, jsonb, text, interval, text),
    noetl.render_iteration(bigint, text, jsonb, integer, integer, jsonb, jsonb, jsonb, interval, text),
    noetl.resume_execution(bigint, jsonb, text)
TO noetl_vars_app;
GRANT USAGE ON SCHEMA noetl TO noetl_vars_nobody;

SET ROLE noetl_vars_app;
SET noetl_vars.track_history = on;  -- only a superuser may
SELECT noetl.set_var(600, 'x', '1');
SELECT noetl.set_vars(600, '{"y": 2}');
SELECT noetl.get_var(600, 'x'), noetl.get_all_vars(600);
SELECT noetl.render_vars(600, 's', '{"n": 5}', '{"z": "{{ vars.x + vars.y + result.n }}"}');
SELECT noetl.render_iteration(600, 'loop', '"a"', 0, 1, '{}', '{}');
SELECT noetl.vars_get(600, 'z')->'value' AS z, noetl.vars_list(600)->'count' AS count;
SELECT noetl.delete_var(600, 'x'), noetl.vars_delete(600, 'y')->'deleted';
SELECT noetl.cleanup_execution(600), noetl.vars_cleanup(600)->'deleted_count';
SELECT pg_temp.try($$SELECT * FROM noetl.transient_history$$) AS history_is_for_operators;
SELECT pg_temp.try($$SELECT * FROM noetl.purge_stale('1 day')$$) AS purge_is_for_operators;
RESET ROLE;

-- Without the grants: permission denied, never data.
SELECT noetl.set_var(601, 'secret', '"s3cr3t"');
SET ROLE noetl_vars_nobody;
SELECT label, pg_temp.try(sql) AS outcome FROM (VALUES
    ('get_var',      $$SELECT noetl.get_var(601, 'secret')$$),
    ('get_all_vars', $$SELECT noetl.get_all_vars(601)$$),
    ('vars_list',    $$SELECT noetl.vars_list(601)$$),
    ('render_vars',  $$SELECT noetl.render_vars(601, 's', '{}', '{"x": "{{ vars.secret }}"}')$$),
    ('set_var',      $$SELECT noetl.set_var(601, 'x', '1')$$),
    ('table',        $$SELECT * FROM noetl.transient$$),
    ('view',         $$SELECT * FROM noetl.executions$$)
) AS t(label, sql);
RESET ROLE;

-- A hostile schema first in search_path, with look-alike tables, functions and operators that
-- would make every comparison true and every clock read 1999: nothing of it is used.
CREATE SCHEMA evil;
CREATE TABLE evil.transient (LIKE noetl.transient INCLUDING ALL);
CREATE TABLE evil.transient_history (LIKE noetl.transient_history);
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '1999-01-01'::timestamptz $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '1999-01-01'::timestamptz $$;
CREATE FUNCTION evil.always(bigint, bigint) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.always);
CREATE FUNCTION evil.always(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.always);
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE sql AS $$ SELECT NULL $$;
CREATE FUNCTION evil.pg_notify(text, text) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT noetl.set_var(602, 'other', '"must stay invisible"');
SET search_path = evil, pg_catalog, public;
SET noetl_vars.track_history = on;
SELECT noetl.set_var(603, 'a', '1');
SELECT noetl.set_vars(603, '{"b": 2, "c": 3}');
SELECT noetl.get_var(603, 'a'), noetl.get_var(603, 'other') IS NULL AS no_leak, noetl.get_all_vars(603);
SELECT noetl.render_vars(603, 's', '{}', '{"sum": "{{ vars.a + vars.b + vars.c }}", "leak": "{{ vars.other | default(\"none\") }}"}');
SELECT noetl.render_iteration(603, 'loop', '1', 0, 1, '{}', '{}');
SELECT noetl.vars_list(603)->'count' AS count, noetl.vars_get(603, 'a')->'access_count' AS reads;
SELECT noetl.delete_var(603, 'c'), noetl.vars_delete(603, 'b')->'deleted';
SELECT noetl.var_at(603, 'a', '2100-01-01') AS var_at;
SELECT variables FROM noetl.executions WHERE execution_id OPERATOR(pg_catalog.=) 603;
SELECT created_at OPERATOR(pg_catalog.>) '2000-01-01'::timestamptz AS real_clock FROM noetl.transient
WHERE execution_id OPERATOR(pg_catalog.=) 603 AND var_name OPERATOR(pg_catalog.=) 'a';
CREATE TABLE evil.step_vars (LIKE noetl.step_vars INCLUDING ALL);
CREATE TABLE evil.global_vars (LIKE noetl.global_vars INCLUDING ALL);
SELECT noetl.apply_set(603, 's', '{"step.n": 1, "global.evil_probe": 2, "ctx.d": "{{ ctx.a + 1 }}"}') AS apply_set;
SELECT noetl.context_vars(603, 's') -> 'step' AS step_scope;
SELECT (SELECT pg_catalog.count(*) FROM evil.step_vars) AS evil_step_rows, (SELECT pg_catalog.count(*) FROM evil.global_vars) AS evil_global_rows;
SELECT noetl.finish_step(603, 's');
DELETE FROM noetl.global_vars WHERE var_name OPERATOR(pg_catalog.=) 'evil_probe';
SELECT (SELECT pg_catalog.count(*) FROM evil.transient) AS evil_rows, (SELECT pg_catalog.count(*) FROM evil.transient_history) AS evil_history;
SELECT noetl.cleanup_execution(603);
RESET noetl_vars.track_history;
RESET search_path;
SELECT noetl.get_var(602, 'other') AS untouched_neighbour;
SELECT noetl.cleanup_execution(601), noetl.cleanup_execution(602);
DELETE FROM noetl.transient_history WHERE execution_id IN (600, 603);

-- The set: scopes: the grants of docs/security.md, and a role that may read global values but not write
-- them (SELECT alone on noetl.global_vars).
CREATE ROLE noetl_vars_setter NOLOGIN;
GRANT USAGE ON SCHEMA noetl TO noetl_vars_setter;
GRANT SELECT, INSERT, UPDATE, DELETE ON noetl.transient, noetl.step_vars, noetl.workflow_vars TO noetl_vars_setter;
GRANT SELECT ON noetl.global_vars TO noetl_vars_setter;
GRANT EXECUTE ON FUNCTION
    noetl.apply_set(bigint, text, jsonb, jsonb, integer, text, interval, text),
    noetl.context_vars(bigint, text, integer, text), noetl.finish_step(bigint, text)
TO noetl_vars_setter;
SELECT noetl.apply_set(610, 'seed', '{"global.quota": 5}') AS seeded_by_an_operator;
SET ROLE noetl_vars_setter;
SELECT noetl.apply_set(610, 's', '{"ctx.a": "{{ global.quota + 1 }}", "step.b": 2, "iter.c": 3, "workflow.d": 4}', iteration => 0, playbook => 'p') AS app_writes;
SELECT pg_temp.try($$SELECT noetl.apply_set(610, 's', '{"global.quota": 6}')$$) AS global_write_refused;
-- In skip mode too, with a template that fails: refused before the block runs, so that no
-- lock on the global scope is held for the rest of the transaction (none is left).
SET noetl_vars.on_render_error = 'skip';
BEGIN;
SELECT pg_temp.try($$SELECT noetl.apply_set(610, 's', '{"global.quota": "{{ no_such_name }}"}')$$) AS skip_mode_global_write_refused;
SELECT pg_catalog.count(*) AS advisory_locks_held FROM pg_catalog.pg_locks
WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid();
ROLLBACK;
RESET noetl_vars.on_render_error;
SELECT noetl.context_vars(610, 's', 0, playbook => 'p') AS app_reads;
SELECT noetl.finish_step(610, 's') AS finished;
RESET ROLE;
SET ROLE noetl_vars_nobody;
SELECT pg_temp.try($$SELECT noetl.context_vars(610)$$) AS nobody_reads_nothing;
RESET ROLE;
SELECT noetl.cleanup_execution(610);
DELETE FROM noetl.workflow_vars WHERE playbook = 'p';
DELETE FROM noetl.global_vars WHERE var_name = 'quota';
REVOKE ALL ON SCHEMA noetl FROM noetl_vars_setter;
REVOKE ALL ON noetl.transient, noetl.step_vars, noetl.workflow_vars, noetl.global_vars FROM noetl_vars_setter;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA noetl FROM noetl_vars_setter;
DROP ROLE noetl_vars_setter;

DROP SCHEMA evil CASCADE;
REVOKE ALL ON SCHEMA noetl FROM noetl_vars_app, noetl_vars_nobody;
REVOKE ALL ON noetl.transient, noetl.applied_events FROM noetl_vars_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA noetl FROM noetl_vars_app;
DROP ROLE noetl_vars_app;
DROP ROLE noetl_vars_nobody;
