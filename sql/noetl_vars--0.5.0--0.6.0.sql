-- noetl_vars 0.5.0 -> 0.6.0: NoETL's lifetime columns on noetl.transient (docs/operations.md,
-- "NoETL's start-up DDL").
--   * expires_at and scope, declared as NoETL's start-up DDL declares them (its CHECK on scope
--     included), and NoETL's partial index idx_transient_expires: that DDL then finds every
--     column and index it would add, and changes nothing;
--   * the primary key's index is renamed idx_transient_execution, the name of NoETL's index on
--     execution_id, which it serves: NoETL's CREATE INDEX IF NOT EXISTS finds it;
--   * adopt_transient carries a legacy table's expires_at and scope over;
--   * a variable whose expires_at has passed is left out by every read (the statements are the
--     library's), and by the view noetl.executions; noetl.purge_expired deletes such rows;
--   * set_var, set_vars, render_vars, render_iteration and apply_set take ttl interval;
--   * resume_execution writes an execution's predefined variables again on resume;
--   * render_vars, render_iteration and apply_set take event_id, recorded in noetl.applied_events.
-- Frozen once released: later versions add their own script rather than editing this one.
\echo Use "ALTER EXTENSION noetl_vars UPDATE TO '0.6.0'" to load this file. \quit

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
                  HINT = pg_catalog.format('Check what the schema holds (\dn+ noetl, \df noetl.*, \do noetl.*), then ALTER SCHEMA noetl OWNER TO %s and retry; see docs/operations.md, "Adopting an existing database".', CURRENT_USER);
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

ALTER TABLE noetl.transient RENAME CONSTRAINT transient_pkey TO idx_transient_execution;
ALTER TABLE noetl.transient
    ADD COLUMN expires_at pg_catalog.timestamptz,
    ADD COLUMN scope pg_catalog.text DEFAULT 'execution'
        CONSTRAINT transient_scope_check
        CHECK (scope OPERATOR(pg_catalog.=) ANY (ARRAY['step', 'execution', 'workflow', 'permanent']::pg_catalog.text[]));
CREATE INDEX idx_transient_expires ON noetl.transient (expires_at) WHERE expires_at IS NOT NULL;

CREATE OR REPLACE FUNCTION noetl.adopt_transient(source pg_catalog.regclass)
RETURNS pg_catalog.int8
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    cols pg_catalog.text[];
    missing pg_catalog.text[];
    odd pg_catalog.text;
    clashes pg_catalog.int8;
    source_rows pg_catalog.int8;
    copied pg_catalog.int8;
BEGIN
    IF source IS NULL THEN
        RAISE EXCEPTION 'source must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF source OPERATOR(pg_catalog.=) 'noetl.transient'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'source must be the legacy table, not noetl.transient itself'
            USING ERRCODE = '22023',
                  HINT = 'move the legacy table out of the way first: ALTER TABLE noetl.transient SET SCHEMA noetl_legacy';
    END IF;
    -- Lock the legacy table before looking at it: its owner cannot turn it into a view, give
    -- it row security or change a column's type between the checks and the copy. Writers of
    -- noetl.transient wait too, then see the adopted rows (they would otherwise update rows
    -- they cannot see yet, and lose the update).
    EXECUTE pg_catalog.format('LOCK TABLE ONLY %s IN ACCESS EXCLUSIVE MODE', source);
    LOCK TABLE noetl.transient IN EXCLUSIVE MODE;
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) source)
           OPERATOR(pg_catalog.<>) 'r' THEN
        RAISE EXCEPTION '% is not a plain table', source
            USING ERRCODE = '42809',
                  HINT = 'adopt_transient reads only ordinary tables (not views, foreign or partitioned tables)';
    END IF;
    IF (SELECT c.relrowsecurity FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) source) THEN
        RAISE EXCEPTION '% has row security enabled', source
            USING ERRCODE = '42501',
                  HINT = 'ALTER TABLE ... DISABLE ROW LEVEL SECURITY first, after checking its policies';
    END IF;
    SELECT pg_catalog.array_agg(a.attname::pg_catalog.text) INTO cols
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid OPERATOR(pg_catalog.=) source AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    SELECT pg_catalog.array_agg(c) INTO missing
    FROM pg_catalog.unnest(ARRAY['execution_id', 'var_name', 'var_value']) AS c
    WHERE NOT c OPERATOR(pg_catalog.=) ANY (cols);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION '% has no column %', source, pg_catalog.array_to_string(missing, ', ')
            USING ERRCODE = '42703';
    END IF;
    -- The columns read must have built-in base types (no domains, no user-defined types).
    SELECT pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ')
    INTO odd
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
    WHERE a.attrelid OPERATOR(pg_catalog.=) source AND NOT a.attisdropped
      AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['execution_id', 'var_name', 'var_value', 'var_type',
                                                     'source_step', 'access_count', 'created_at', 'accessed_at',
                                                     'expires_at', 'scope']::pg_catalog.name[])
      AND (t.typnamespace OPERATOR(pg_catalog.<>) 'pg_catalog'::pg_catalog.regnamespace
           OR t.typtype OPERATOR(pg_catalog.<>) 'b');
    IF odd IS NOT NULL THEN
        RAISE EXCEPTION 'columns of % have types that are not built in: %', source, odd
            USING ERRCODE = '42804',
                  HINT = 'copy the rows into a table with built-in column types (bigint, text, jsonb, integer, timestamptz) and adopt that';
    END IF;

    EXECUTE pg_catalog.format(
        'SELECT pg_catalog.count(*) FROM ONLY %s s JOIN noetl.transient t'
        ' ON t.execution_id OPERATOR(pg_catalog.=) s.execution_id AND t.var_name OPERATOR(pg_catalog.=) s.var_name',
        source)
        INTO clashes;
    IF clashes OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION '% variables of % already exist in noetl.transient', clashes, source
            USING ERRCODE = '23505',
                  HINT = 'adopt into an empty noetl.transient, or delete the clashing variables first';
    END IF;

    EXECUTE pg_catalog.format(
        'INSERT INTO noetl.transient (execution_id, var_name, var_type, var_value, source_step,'
        '                             access_count, created_at, accessed_at, expires_at, scope)'
        ' SELECT execution_id, var_name, %s, var_value::pg_catalog.jsonb, %s, %s, %s, %s, %s, %s FROM ONLY %s',
        CASE WHEN 'var_type' OPERATOR(pg_catalog.=) ANY (cols) THEN 'COALESCE(var_type, ''user_defined'')' ELSE '''user_defined''' END,
        CASE WHEN 'source_step' OPERATOR(pg_catalog.=) ANY (cols) THEN 'source_step' ELSE 'NULL' END,
        CASE WHEN 'access_count' OPERATOR(pg_catalog.=) ANY (cols) THEN 'COALESCE(access_count, 0)' ELSE '0' END,
        CASE WHEN 'created_at' OPERATOR(pg_catalog.=) ANY (cols) THEN 'COALESCE(created_at, pg_catalog.now())' ELSE 'pg_catalog.now()' END,
        CASE WHEN 'accessed_at' OPERATOR(pg_catalog.=) ANY (cols) THEN 'COALESCE(accessed_at, pg_catalog.now())' ELSE 'pg_catalog.now()' END,
        CASE WHEN 'expires_at' OPERATOR(pg_catalog.=) ANY (cols) THEN 'expires_at' ELSE 'NULL' END,
        CASE WHEN 'scope' OPERATOR(pg_catalog.=) ANY (cols) THEN 'COALESCE(scope, ''execution'')' ELSE '''execution''' END,
        source);
    GET DIAGNOSTICS copied = ROW_COUNT;
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM ONLY %s', source) INTO source_rows;
    IF copied OPERATOR(pg_catalog.<>) source_rows THEN
        RAISE EXCEPTION 'copied % of % rows of %', copied, source_rows, source USING ERRCODE = 'XX000';
    END IF;
    RETURN copied;
END
$body$;

CREATE OR REPLACE VIEW noetl.executions AS
SELECT t.execution_id,
       pg_catalog.count(*)::pg_catalog.int4                          AS variables,
       pg_catalog.sum(pg_catalog.pg_column_size(t.var_value))::pg_catalog.int8 AS value_bytes,
       pg_catalog.min(t.created_at)                                  AS first_write,
       -- Exact with track_history on; otherwise the last creation, or the last write of a
       -- variable never read (its accessed_at only moves on writes).
       GREATEST(pg_catalog.max(t.created_at),
                pg_catalog.max(t.accessed_at) FILTER (WHERE t.access_count OPERATOR(pg_catalog.=) 0),
                (SELECT pg_catalog.max(h.changed_at) FROM noetl.transient_history h
                 WHERE h.execution_id OPERATOR(pg_catalog.=) t.execution_id)) AS last_write,
       pg_catalog.max(t.accessed_at) FILTER (WHERE t.access_count OPERATOR(pg_catalog.>) 0) AS last_read,
       pg_catalog.sum(t.access_count)::pg_catalog.int8               AS reads,
       (pg_catalog.array_agg(t.var_name ORDER BY t.access_count DESC, t.var_name)
            FILTER (WHERE t.access_count OPERATOR(pg_catalog.>) 0))[1:5] AS most_read
FROM noetl.transient t
WHERE t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) pg_catalog.statement_timestamp()
GROUP BY t.execution_id;

-- Deletes variables whose lifetime (expires_at) has ended, at most `batch` of them, those that
-- ended first first. Rows another transaction holds locked are skipped, not waited for: a
-- scheduled purge never holds up a writer, and what it skips the next run takes.
CREATE FUNCTION noetl.purge_expired(batch pg_catalog.int4 DEFAULT 10000)
RETURNS pg_catalog.int8
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    purged pg_catalog.int8;
    emptied pg_catalog.int8[];
BEGIN
    IF batch IS NULL OR batch OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'batch must be a positive number of variables, not %', COALESCE(batch::pg_catalog.text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'call noetl.purge_expired() for the default of 10000, and again while it returns that many';
    END IF;
    WITH doomed AS (
        SELECT t.ctid AS row_id FROM noetl.transient t
        WHERE t.expires_at OPERATOR(pg_catalog.<=) pg_catalog.statement_timestamp()
        ORDER BY t.expires_at
        LIMIT batch
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM noetl.transient t USING doomed d
        WHERE t.ctid OPERATOR(pg_catalog.=) d.row_id
        RETURNING t.execution_id
    )
    SELECT pg_catalog.count(*), pg_catalog.array_agg(DISTINCT g.execution_id) INTO purged, emptied FROM gone g;
    -- An execution whose last variables ended is gone: so are the event ids it applied.
    DELETE FROM noetl.applied_events e
    WHERE e.execution_id OPERATOR(pg_catalog.=) ANY (emptied)
      AND NOT EXISTS (SELECT 1 FROM noetl.transient t WHERE t.execution_id OPERATOR(pg_catalog.=) e.execution_id);
    RETURN purged;
END
$body$;
REVOKE EXECUTE ON FUNCTION noetl.purge_expired(pg_catalog.int4) FROM PUBLIC;

COMMENT ON FUNCTION noetl.purge_expired(pg_catalog.int4) IS
    'Deletes up to batch variables whose lifetime (expires_at) has ended, those that ended first first, skipping rows another transaction holds; returns how many it deleted. Schedule it with pg_cron.';
COMMENT ON COLUMN noetl.transient.expires_at IS 'When the variable''s lifetime ends (NoETL''s column); NULL: it lasts as long as its execution.';
COMMENT ON COLUMN noetl.transient.scope IS 'NoETL''s lifecycle scope: execution for every variable the extension writes; step, workflow or permanent only from plain SQL.';
COMMENT ON INDEX noetl.idx_transient_execution IS 'The primary key (execution_id, var_name); named as NoETL''s index on execution_id.';
COMMENT ON INDEX noetl.idx_transient_expires IS 'Variables with a lifetime, by when it ends.';

-- The five write paths take `ttl interval DEFAULT NULL` last (docs/operations.md, "Lifetimes").
-- A function cannot gain an argument in place: each old signature is dropped and the new one
-- created, and the EXECUTE grants the old one had (docs/security.md, "Privileges") are given
-- again on the new one, so the application role keeps working after the update. (They are
-- given again by the role updating: a grant another grantor had made is then this role's.)
CREATE FUNCTION noetl.replace_function_0_6_0(old pg_catalog.text, definition pg_catalog.text, new pg_catalog.text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    old_acl pg_catalog.aclitem[];
    g record;
BEGIN
    SELECT p.proacl INTO old_acl FROM pg_catalog.pg_proc p
    WHERE p.oid OPERATOR(pg_catalog.=) old::pg_catalog.regprocedure;
    EXECUTE 'DROP FUNCTION ' OPERATOR(pg_catalog.||) old;
    EXECUTE definition;
    IF old_acl IS NULL THEN
        RETURN;  -- the default (PUBLIC may execute), which the new function has too
    END IF;
    EXECUTE 'REVOKE EXECUTE ON FUNCTION ' OPERATOR(pg_catalog.||) new OPERATOR(pg_catalog.||) ' FROM PUBLIC';
    FOR g IN
        SELECT a.grantee, a.is_grantable FROM pg_catalog.aclexplode(old_acl) a
        JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) new::pg_catalog.regprocedure
        WHERE a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
          AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', new,
            CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'
                 ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
            CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$body$;

SELECT noetl.replace_function_0_6_0(
    'noetl.set_var(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text)',
    $def$CREATE FUNCTION noetl."set_var"(
	"execution_id" pg_catalog.int8,
	"var_name" pg_catalog.text,
	"var_value" pg_catalog.jsonb,
	"var_type" pg_catalog.text DEFAULT 'user_defined',
	"source_step" pg_catalog.text DEFAULT NULL,
	"ttl" pg_catalog.interval DEFAULT NULL
) RETURNS void
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'set_var_v6_wrapper';$def$,
    'noetl.set_var(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.interval)');
COMMENT ON FUNCTION noetl.set_var(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.interval) IS
    'Creates or overwrites one variable; ttl gives it a lifetime from now (expires_at). An overwrite keeps created_at, access_count and, without ttl, the lifetime. Errors: 22004 NULL argument, 22023 empty name or invalid var_type, 42622 name over 1024 bytes, 54000 value over noetl_vars.max_value_bytes, 22023 ttl not a positive interval of at most 100 years.';

SELECT noetl.replace_function_0_6_0(
    'noetl.set_vars(pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text)',
    $def$CREATE FUNCTION noetl."set_vars"(
	"execution_id" pg_catalog.int8,
	"variables" pg_catalog.jsonb,
	"var_type" pg_catalog.text DEFAULT 'user_defined',
	"source_step" pg_catalog.text DEFAULT NULL,
	"ttl" pg_catalog.interval DEFAULT NULL
) RETURNS pg_catalog.jsonb
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'set_vars_v6_wrapper';$def$,
    'noetl.set_vars(pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.interval)');
COMMENT ON FUNCTION noetl.set_vars(pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.interval) IS
    'Creates or overwrites every member of a JSON object in one statement, all or nothing; ttl gives each a lifetime from now. Returns the POST /api/vars/{id} body {"execution_id", "variables_set", "var_names"}.';

SELECT noetl.replace_function_0_6_0(
    'noetl.render_vars(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text)',
    $def$CREATE FUNCTION noetl."render_vars"(
	"execution_id" pg_catalog.int8,
	"step" pg_catalog.text,
	"result" pg_catalog.jsonb,
	"config" pg_catalog.jsonb,
	"context" pg_catalog.jsonb DEFAULT '{}',
	"phase" pg_catalog.text DEFAULT 'after',
	"ttl" pg_catalog.interval DEFAULT NULL,
	"event_id" pg_catalog.text DEFAULT NULL
) RETURNS pg_catalog.jsonb
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'render_vars_v6_wrapper';$def$,
    'noetl.render_vars(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text, pg_catalog.interval, pg_catalog.text)');
COMMENT ON FUNCTION noetl.render_vars(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text, pg_catalog.interval, pg_catalog.text) IS
    'Renders a step''s vars: block (config) against its result and context, stores every variable as step_result with source_step = step, and returns {name: value} of what it stored. A variable lives for its $ttl in the block, else for ttl, else as long as its execution. With event_id the call applies at most once per (execution, id); later calls return the first result. All or nothing unless noetl_vars.on_render_error = skip.';

SELECT noetl.replace_function_0_6_0(
    'noetl.render_iteration(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.int4, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb)',
    $def$CREATE FUNCTION noetl."render_iteration"(
	"execution_id" pg_catalog.int8,
	"step" pg_catalog.text,
	"item" pg_catalog.jsonb,
	"item_index" pg_catalog.int4,
	"total" pg_catalog.int4,
	"result" pg_catalog.jsonb,
	"config" pg_catalog.jsonb,
	"context" pg_catalog.jsonb DEFAULT '{}',
	"ttl" pg_catalog.interval DEFAULT NULL,
	"event_id" pg_catalog.text DEFAULT NULL
) RETURNS pg_catalog.jsonb
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'render_iteration_v6_wrapper';$def$,
    'noetl.render_iteration(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.int4, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.interval, pg_catalog.text)');
COMMENT ON FUNCTION noetl.render_iteration(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.int4, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.interval, pg_catalog.text) IS
    'Records one iteration of a looping step ({step}_index, {step}_item, {step}_total, {step}_count as iterator_state) and applies its vars: block with item in the context. ttl is the lifetime of everything it stores, unless the block''s $ttl gives a variable its own. With event_id it applies at most once per (execution, id). Returns everything it stored.';

SELECT noetl.replace_function_0_6_0(
    'noetl.apply_set(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.text)',
    $def$CREATE FUNCTION noetl."apply_set"(
	"execution_id" pg_catalog.int8,
	"step" pg_catalog.text,
	"mutations" pg_catalog.jsonb,
	"context" pg_catalog.jsonb DEFAULT '{}',
	"iteration" pg_catalog.int4 DEFAULT NULL,
	"playbook" pg_catalog.text DEFAULT NULL,
	"ttl" pg_catalog.interval DEFAULT NULL,
	"event_id" pg_catalog.text DEFAULT NULL
) RETURNS pg_catalog.jsonb
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'apply_set_v6_wrapper';$def$,
    'noetl.apply_set(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.text, pg_catalog.interval, pg_catalog.text)');
COMMENT ON FUNCTION noetl.apply_set(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.text, pg_catalog.interval, pg_catalog.text) IS
    'Applies one set: block (a step''s or an arc''s): ctx.x or x writes execution variable x (step_result, source_step = step), step.x the step''s own scope, iter.x iteration `iteration`''s, workflow.x playbook `playbook`''s, global.x the global scope. Templates see ctx (= vars), step, iter (over context.iter), workflow, global and every key of context. Execution variables live for their $ttl in the block, else for ttl (other scopes have no lifetime). With event_id the block applies at most once per (execution, id); later calls return the first result. All or nothing; returns {"ctx": {…}, "step": {…}, …} of the scopes written. Errors: 22023 unknown scope prefix, bad ttl or $ttl, event_id empty, over 1024 bytes or used by another call, empty name, iter. without iteration, workflow. without playbook.';

DROP FUNCTION noetl.replace_function_0_6_0(pg_catalog.text, pg_catalog.text, pg_catalog.text);

-- Re-running: an execution's predefined variables written again on resume.
CREATE FUNCTION noetl."resume_execution"(
	"execution_id" pg_catalog.int8,
	"predefined" pg_catalog.jsonb,
	"keep" pg_catalog.text DEFAULT 'predefined'
) RETURNS pg_catalog.jsonb
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'resume_execution_wrapper';
REVOKE EXECUTE ON FUNCTION noetl.resume_execution(pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text) FROM PUBLIC;
COMMENT ON FUNCTION noetl.resume_execution(pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text) IS
    'Writes an execution''s predefined variables again when it resumes (user_defined, source_step resume). Where the execution holds a runtime value of the same name that differs, keep => predefined (the default) overwrites it with a WARNING naming it, keep => runtime leaves it. All or nothing; returns {"written": [names, sorted], "conflicts": {name: {"runtime", "predefined"}}, "keep"}. Errors: 22004 NULL argument, 22023 predefined not an object or keep another word.';

-- Events applied at most once (render_vars, render_iteration and apply_set take event_id).
CREATE TABLE noetl.applied_events (
    execution_id pg_catalog.int8        NOT NULL,
    event_id     pg_catalog.text        COLLATE pg_catalog."C" NOT NULL,
    function     pg_catalog.text        NOT NULL,
    step         pg_catalog.text        NOT NULL,
    block_md5    pg_catalog.text        NOT NULL,
    result       pg_catalog.jsonb,
    applied_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (execution_id, event_id)
);
SELECT pg_catalog.pg_extension_config_dump('noetl.applied_events', '');
REVOKE ALL ON TABLE noetl.applied_events FROM PUBLIC;
COMMENT ON TABLE noetl.applied_events IS
    'Events applied at most once: a call of render_vars, render_iteration or apply_set with an event_id records it with its result; a later call with the id returns that result and writes nothing. Removed with the execution. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.applied_events.execution_id IS 'The execution the event belongs to.';
COMMENT ON COLUMN noetl.applied_events.event_id IS 'The caller''s id of the event (one delivery of it or many).';
COMMENT ON COLUMN noetl.applied_events.function IS 'The function that applied it: render_vars, render_iteration or apply_set.';
COMMENT ON COLUMN noetl.applied_events.step IS 'The step it was applied for.';
COMMENT ON COLUMN noetl.applied_events.block_md5 IS 'What identifies the block it applied: the phase or the iteration, then the md5 of the block''s jsonb. The same id with another block is refused.';
COMMENT ON COLUMN noetl.applied_events.result IS 'What the first call returned, returned again to every later call with the id.';
COMMENT ON COLUMN noetl.applied_events.applied_at IS 'When it was applied.';
