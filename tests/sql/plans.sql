-- The per-statement work of every write and read: the extension's own statements are planned
-- as index scans whatever the table's size, and the change triggers' condition is one call.
-- In a database of its own, so that the table's size (and with it the planner's choice) is
-- this test's alone.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS noetl_vars_plans;
CREATE DATABASE noetl_vars_plans;
RESET client_min_messages;
\c noetl_vars_plans
CREATE EXTENSION noetl_vars;

-- A small table (two pages), analysed: PostgreSQL's estimates prefer a sequential scan for a
-- key lookup here, and a plan made now would be kept for the backend's life.
SELECT noetl.set_vars(5, (SELECT jsonb_object_agg('v' || g, g) FROM generate_series(1, 100) g)) ->> 'variables_set' AS stored;
SELECT noetl.set_vars(6, '{"attempts": 1}') ->> 'variables_set' AS stored;
VACUUM ANALYZE noetl.transient;
-- A new session, so that every statement is planned afresh against these statistics.
\c noetl_vars_plans
BEGIN;
SELECT noetl.get_var(5, 'v7') AS tracked_read, noetl.get_all_vars(6) AS all_vars;
SELECT noetl.render_vars(6, 'step', '{}', '{"attempts": "{{ vars.attempts + 1 }}", "copy": "{{ vars.attempts }}"}') AS rendered;
SELECT noetl.vars_get(5, 'v8') ->> 'value' AS vars_get, noetl.delete_var(5, 'v9') AS deleted;
-- Every one of these read noetl.transient through its primary key, none by reading it whole.
SELECT seq_scan AS sequential_scans, idx_scan > 0 AS index_scans
FROM pg_stat_xact_user_tables WHERE relid = 'noetl.transient'::regclass;
COMMIT;
-- A user's own statement on the same table is planned as PostgreSQL chooses (the hook only
-- steers the extension's statements).
BEGIN;
SELECT count(*) AS rows FROM noetl.transient;
SELECT seq_scan AS user_sequential_scans FROM pg_stat_xact_user_tables WHERE relid = 'noetl.transient'::regclass;
COMMIT;
SHOW enable_seqscan;

-- The change triggers fire on one call, noetl.capture_changes(): tracked reads are told
-- apart inside the trigger function, which runs only while capture is on.
SELECT tgname, pg_get_triggerdef(oid) ~ 'WHEN \(noetl\.capture_changes\(\)\) EXECUTE' AS one_call_condition
FROM pg_trigger WHERE tgrelid = 'noetl.transient'::regclass AND NOT tgisinternal ORDER BY tgname;

-- The hook catches nothing: an error raised while planning keeps its context (here, that of
-- an immutable SQL function that the planner runs on its constant argument, dividing by zero).
CREATE FUNCTION public.plans_inverse(integer) RETURNS integer LANGUAGE sql IMMUTABLE
    AS 'SELECT 1 / $1';
CREATE FUNCTION pg_temp.planning_error() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    message text;
    context text;
BEGIN
    PERFORM public.plans_inverse(0);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, context = PG_EXCEPTION_CONTEXT;
    RETURN message || ' / ' || (context LIKE '%SQL function "plans_inverse" statement 1%')::text;
END
$$;
SELECT pg_temp.planning_error() AS error_and_its_context;
DROP FUNCTION public.plans_inverse(integer);

\c postgres
DROP DATABASE noetl_vars_plans;
