-- noetl_vars 0.4.0 -> 0.5.0: NoETL's set: blocks (SPEC §8).
--   * noetl.apply_set applies a step's or an arc's set: block: ctx.x (or a bare x) writes the
--     execution variable x, step.x / iter.x a step's or an iteration's scope
--     (noetl.step_vars), workflow.x a playbook's (noetl.workflow_vars), global.x the global
--     one (noetl.global_vars); noetl.context_vars reads every scope in one call;
--     noetl.finish_step removes a step's and its iterations' values.
-- Frozen once released: later versions add their own script rather than editing this one.
\echo Use "ALTER EXTENSION noetl_vars UPDATE TO '0.5.0'" to load this file. \quit

-- As in every update since 0.3.0: refused in a schema noetl another role owns or may create
-- objects in (that role could replace the extension's functions or capture calls to them).
-- The check of a fresh install (sql/schema.sql): a schema noetl owned by, or writable for, a
-- role that is neither the one updating nor a superuser is refused.
DO $$
DECLARE
    owner pg_catalog.text;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(n.nspowner) INTO owner
    FROM pg_catalog.pg_namespace n
    WHERE n.nspname OPERATOR(pg_catalog.=) 'noetl'
      AND n.nspowner OPERATOR(pg_catalog.<>) (
          SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
      AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) n.nspowner);
    IF owner IS NOT NULL THEN
        RAISE EXCEPTION 'schema noetl is owned by role %, not by %, the role updating noetl_vars', owner, CURRENT_USER
            USING ERRCODE = '42501',
                  DETAIL = 'Objects the extension creates in a schema another role controls could be made to call that role''s functions.',
                  HINT = pg_catalog.format('Check what the schema holds (\dn+ noetl, \df noetl.*, \do noetl.*), then ALTER SCHEMA noetl OWNER TO %s and retry; see the README, "Adopting an existing database".', CURRENT_USER);
    END IF;
    -- The same holds for a role that may create objects in it.
    SELECT pg_catalog.string_agg(CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'
                                      ELSE pg_catalog.pg_get_userbyid(a.grantee)::pg_catalog.text END, ', ') INTO owner
    FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
    WHERE n.nspname OPERATOR(pg_catalog.=) 'noetl'
      AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
      AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
      AND NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) a.grantee), false);
    IF owner IS NOT NULL THEN
        RAISE EXCEPTION 'other roles may create objects in schema noetl: %', owner
            USING ERRCODE = '42501',
                  DETAIL = 'Objects the extension creates in a schema another role can write could be made to call that role''s functions.',
                  HINT = pg_catalog.format('REVOKE CREATE ON SCHEMA noetl FROM %s (the extension''s objects need no such grant), then retry.', owner);
    END IF;
END
$$;

-- A step's own values (iteration NULL) and each iteration's, removed by noetl.finish_step.
-- NULLS NOT DISTINCT (PostgreSQL 15): a step's own value is one row per name like any other.
CREATE TABLE noetl.step_vars (
    execution_id pg_catalog.int8        NOT NULL,
    step         pg_catalog.text        NOT NULL,
    iteration    pg_catalog.int4,
    var_name     pg_catalog.text        NOT NULL,
    var_value    pg_catalog.jsonb       NOT NULL,
    created_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT step_vars_key UNIQUE NULLS NOT DISTINCT (execution_id, step, iteration, var_name)
);

-- Values shared by every execution of one playbook (its catalog path).
CREATE TABLE noetl.workflow_vars (
    playbook     pg_catalog.text        NOT NULL,
    var_name     pg_catalog.text        NOT NULL,
    var_value    pg_catalog.jsonb       NOT NULL,
    execution_id pg_catalog.int8,
    created_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (playbook, var_name)
);

-- Values shared by every execution.
CREATE TABLE noetl.global_vars (
    var_name     pg_catalog.text        NOT NULL PRIMARY KEY,
    var_value    pg_catalog.jsonb       NOT NULL,
    execution_id pg_catalog.int8,
    created_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);

SELECT pg_catalog.pg_extension_config_dump('noetl.step_vars', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.workflow_vars', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.global_vars', '');

REVOKE ALL ON TABLE noetl.step_vars, noetl.workflow_vars, noetl.global_vars FROM PUBLIC;

CREATE FUNCTION noetl."apply_set"(
	"execution_id" pg_catalog.int8,
	"step" pg_catalog.text,
	"mutations" pg_catalog.jsonb,
	"context" pg_catalog.jsonb DEFAULT '{}'::pg_catalog.jsonb,
	"iteration" pg_catalog.int4 DEFAULT NULL,
	"playbook" pg_catalog.text DEFAULT NULL
) RETURNS pg_catalog.jsonb
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'apply_set_wrapper';

CREATE FUNCTION noetl."context_vars"(
	"execution_id" pg_catalog.int8,
	"step" pg_catalog.text DEFAULT NULL,
	"iteration" pg_catalog.int4 DEFAULT NULL,
	"playbook" pg_catalog.text DEFAULT NULL
) RETURNS pg_catalog.jsonb
STABLE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', 'context_vars_wrapper';

CREATE FUNCTION noetl."finish_step"(
	"execution_id" pg_catalog.int8,
	"step" pg_catalog.text
) RETURNS pg_catalog.int4
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'finish_step_wrapper';

REVOKE EXECUTE ON FUNCTION
    noetl.apply_set(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.text),
    noetl.context_vars(pg_catalog.int8, pg_catalog.text, pg_catalog.int4, pg_catalog.text),
    noetl.finish_step(pg_catalog.int8, pg_catalog.text)
FROM PUBLIC;

COMMENT ON FUNCTION noetl.apply_set(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.text) IS
    'Applies one set: block (a step''s or an arc''s): ctx.x or x writes execution variable x (step_result, source_step = step), step.x the step''s own scope, iter.x iteration `iteration`''s, workflow.x playbook `playbook`''s, global.x the global scope. Templates see ctx (= vars), step, iter (over context.iter), workflow, global and every key of context. All or nothing; returns {"ctx": {…}, "step": {…}, …} of the scopes written. Errors: 22023 unknown scope prefix, empty name, iter. without iteration, workflow. without playbook.';
COMMENT ON FUNCTION noetl.context_vars(pg_catalog.int8, pg_catalog.text, pg_catalog.int4, pg_catalog.text) IS
    'Every scope a step''s templates see, in one read: {"ctx", "step", "iter", "workflow", "global"}; step, iter and workflow are {} when their argument is NULL. Not a tracked read.';
COMMENT ON FUNCTION noetl.finish_step(pg_catalog.int8, pg_catalog.text) IS
    'Removes a finished step''s step- and iteration-scoped values; returns how many it removed. Waits for every other call of the execution.';
COMMENT ON TABLE noetl.step_vars IS
    'Step-scoped (iteration NULL) and iteration-scoped values written by noetl.apply_set (step.x, iter.x); removed by noetl.finish_step. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.step_vars.execution_id IS 'The NoETL execution.';
COMMENT ON COLUMN noetl.step_vars.step IS 'The step whose scope the value belongs to.';
COMMENT ON COLUMN noetl.step_vars.iteration IS 'The loop iteration (its index) for iter.x; NULL for the step''s own step.x.';
COMMENT ON COLUMN noetl.step_vars.var_name IS 'Variable name, unique within the step or iteration.';
COMMENT ON COLUMN noetl.step_vars.var_value IS 'The value, any JSON.';
COMMENT ON COLUMN noetl.step_vars.created_at IS 'When the value was first written.';
COMMENT ON COLUMN noetl.step_vars.updated_at IS 'When the value was last written.';
COMMENT ON CONSTRAINT step_vars_key ON noetl.step_vars IS 'One value per (execution, step, iteration, name); a NULL iteration (the step''s own scope) counts as one key.';
COMMENT ON TABLE noetl.workflow_vars IS
    'Values shared by every execution of one playbook (workflow.x of noetl.apply_set), keyed by the playbook''s catalog path. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.workflow_vars.playbook IS 'The playbook''s catalog path.';
COMMENT ON COLUMN noetl.workflow_vars.var_name IS 'Variable name, unique within the playbook.';
COMMENT ON COLUMN noetl.workflow_vars.var_value IS 'The value, any JSON.';
COMMENT ON COLUMN noetl.workflow_vars.execution_id IS 'The execution that last wrote the value.';
COMMENT ON COLUMN noetl.workflow_vars.created_at IS 'When the value was first written.';
COMMENT ON COLUMN noetl.workflow_vars.updated_at IS 'When the value was last written.';
COMMENT ON TABLE noetl.global_vars IS
    'Values shared by every execution (global.x of noetl.apply_set). Grant SELECT alone to roles that may read them but not write them. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.global_vars.var_name IS 'Variable name, unique.';
COMMENT ON COLUMN noetl.global_vars.var_value IS 'The value, any JSON.';
COMMENT ON COLUMN noetl.global_vars.execution_id IS 'The execution that last wrote the value.';
COMMENT ON COLUMN noetl.global_vars.created_at IS 'When the value was first written.';
COMMENT ON COLUMN noetl.global_vars.updated_at IS 'When the value was last written.';
