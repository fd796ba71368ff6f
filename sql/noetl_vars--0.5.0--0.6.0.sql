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
--   * render_vars, render_iteration and apply_set take event_id, recorded in noetl.applied_events;
--   * variable watch: noetl.watches, noetl.watch_outbox, noetl.watch_status and their functions;
--   * typed variables: noetl.declarations, declare_var, undeclare_var, noetl.declared_vars;
--   * noetl.transient_history's primary key is (execution_id, id), so that Citus can
--     distribute it with its execution (docs/scale-out.md).
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

-- Each statement on the tables a Citus cluster distributes runs on its own (EXECUTE): Citus
-- sends a statement's text on to the other nodes, and in an extension script that text is the
-- whole script. Each also does nothing where it was done already: Citus applies the
-- coordinator's statements to the workers' copies of a distributed table, and then runs this
-- update on the workers too (docs/scale-out.md). Renaming the index renames its constraint
-- with it (Citus can rename the index of a distributed table, not a constraint).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_index i
                   WHERE i.indexrelid OPERATOR(pg_catalog.=) 'noetl.transient_history_pkey'::pg_catalog.regclass
                     AND i.indnatts OPERATOR(pg_catalog.=) 2) THEN
        EXECUTE 'ALTER TABLE noetl.transient_history DROP CONSTRAINT transient_history_pkey, '
                'ADD CONSTRAINT transient_history_pkey PRIMARY KEY (execution_id, id)';
    END IF;
    EXECUTE 'ALTER INDEX IF EXISTS noetl.transient_pkey RENAME TO idx_transient_execution';
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid OPERATOR(pg_catalog.=) 'noetl.transient'::pg_catalog.regclass
                     AND a.attname OPERATOR(pg_catalog.=) 'expires_at' AND NOT a.attisdropped) THEN
        EXECUTE $ddl$
            ALTER TABLE noetl.transient
                ADD COLUMN expires_at pg_catalog.timestamptz,
                ADD COLUMN scope pg_catalog.text DEFAULT 'execution'
                    CONSTRAINT transient_scope_check
                    CHECK (scope OPERATOR(pg_catalog.=) ANY (ARRAY['step', 'execution', 'workflow', 'permanent']::pg_catalog.text[]))
        $ddl$;
    END IF;
    EXECUTE 'CREATE INDEX IF NOT EXISTS idx_transient_expires ON noetl.transient (expires_at) '
            'WHERE expires_at IS NOT NULL';
END
$$;

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
CREATE FUNCTION noetl."purge_expired"(
	"batch" INT DEFAULT 10000
) RETURNS bigint
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'purge_expired_wrapper';

-- One execution's purge (what purge_stale does to each): where Citus has distributed
-- noetl.transient, purge_stale has it run on the worker holding the execution
-- (docs/scale-out.md).
CREATE FUNCTION noetl."purge_execution"(
	"execution_id" bigint,
	"older_than" interval
) RETURNS TABLE (
	"variables" INT,
	"last_activity" timestamp with time zone
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'purge_execution_wrapper';
REVOKE EXECUTE ON FUNCTION noetl.purge_execution(pg_catalog.int8, pg_catalog.interval) FROM PUBLIC;
COMMENT ON FUNCTION noetl.purge_execution(pg_catalog.int8, pg_catalog.interval) IS
    'Deletes one execution''s variables (and its applied event ids) if none was written or read (tracked) for longer than older_than and no call is using it (never waited for); one row, how many and their last activity, when it did. What purge_stale does to each execution; on Citus, distribute it with force_delegation (docs/scale-out.md).';
REVOKE EXECUTE ON FUNCTION noetl.purge_expired(pg_catalog.int4) FROM PUBLIC;

COMMENT ON FUNCTION noetl.purge_expired(pg_catalog.int4) IS
    'Deletes up to batch variables whose lifetime (expires_at) has ended, those that ended first first, skipping rows another transaction holds; returns how many it deleted. Schedule it with pg_cron.';
DO $$
BEGIN
    EXECUTE $c$COMMENT ON COLUMN noetl.transient.expires_at IS 'When the variable''s lifetime ends (NoETL''s column); NULL: it lasts as long as its execution.'$c$;
    EXECUTE $c$COMMENT ON COLUMN noetl.transient.scope IS 'NoETL''s lifecycle scope: execution for every variable the extension writes; step, workflow or permanent only from plain SQL.'$c$;
END
$$;
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

-- Variable watch (sql/watch.sql, as a fresh install creates it).

CREATE TABLE noetl.watches (
    watch_id       pg_catalog.int8        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url            pg_catalog.text,
    channel        pg_catalog.text,
    headers        pg_catalog.jsonb       NOT NULL DEFAULT '{}',
    signing_secret pg_catalog.text        NOT NULL,
    execution_id   pg_catalog.int8,
    names          pg_catalog.text[],
    kinds          pg_catalog.text[]      NOT NULL DEFAULT ARRAY['set', 'delete', 'expire', 'cleanup'],
    include_values pg_catalog.text        NOT NULL DEFAULT 'new',
    max_attempts   pg_catalog.int4        NOT NULL DEFAULT 10,
    created_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT watches_target_check CHECK ((url IS NULL) OPERATOR(pg_catalog.<>) (channel IS NULL)),
    CONSTRAINT watches_url_check CHECK (url OPERATOR(pg_catalog.~) '^https?://[^/?#]'),
    CONSTRAINT watches_kinds_check CHECK (
        kinds OPERATOR(pg_catalog.<@) ARRAY['set', 'delete', 'expire', 'cleanup']::pg_catalog.text[]
        AND pg_catalog.cardinality(kinds) OPERATOR(pg_catalog.>) 0),
    CONSTRAINT watches_values_check CHECK (
        include_values OPERATOR(pg_catalog.=) ANY (ARRAY['none', 'new', 'both']::pg_catalog.text[])),
    CONSTRAINT watches_attempts_check CHECK (max_attempts OPERATOR(pg_catalog.>=) 1)
);

-- No foreign key to noetl.watches: a writer must never fail because a watch it matched was
-- dropped a moment before. Rows of a dropped watch are deleted with it, never claimed, and
-- purged if one slips in.
CREATE TABLE noetl.watch_outbox (
    seq             pg_catalog.int8        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    watch_id        pg_catalog.int8        NOT NULL,
    execution_id    pg_catalog.int8        NOT NULL,
    var_name        pg_catalog.text        NOT NULL,
    kind            pg_catalog.text        NOT NULL,
    operation       pg_catalog.text        NOT NULL,
    old_value       pg_catalog.jsonb,
    new_value       pg_catalog.jsonb,
    changed_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    state           pg_catalog.text        NOT NULL DEFAULT 'pending',
    attempts        pg_catalog.int4        NOT NULL DEFAULT 0,
    next_attempt_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    delivered_at    pg_catalog.timestamptz,
    last_error      pg_catalog.text,
    CONSTRAINT watch_outbox_state_check CHECK (
        state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'delivered', 'dead']::pg_catalog.text[]))
);
CREATE INDEX watch_outbox_due ON noetl.watch_outbox (next_attempt_at, seq)
    WHERE state OPERATOR(pg_catalog.=) 'pending';
CREATE INDEX watch_outbox_watch ON noetl.watch_outbox (watch_id, state);

SELECT pg_catalog.pg_extension_config_dump('noetl.watches', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.watches_watch_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.watch_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.watch_outbox_seq_seq', '');

-- Every session keeps the subscriptions in memory; a change to them tells every session to
-- read them again (a relation cache invalidation of noetl.watches, sent at commit).
CREATE FUNCTION noetl.watches_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'watches_changed_wrapper';

CREATE TRIGGER watches_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON noetl.watches
    FOR EACH STATEMENT EXECUTE FUNCTION noetl.watches_changed();

-- Subscribes to changes of execution variables; returns the watch's id and its signing secret
-- (shown here only: generated when not given).
CREATE FUNCTION noetl.watch(
    url pg_catalog.text DEFAULT NULL,
    channel pg_catalog.text DEFAULT NULL,
    execution_id pg_catalog.int8 DEFAULT NULL,
    names pg_catalog.text[] DEFAULT NULL,
    kinds pg_catalog.text[] DEFAULT ARRAY['set', 'delete', 'expire', 'cleanup'],
    include_values pg_catalog.text DEFAULT 'new',
    headers pg_catalog.jsonb DEFAULT '{}',
    signing_secret pg_catalog.text DEFAULT NULL,
    max_attempts pg_catalog.int4 DEFAULT 10)
RETURNS pg_catalog.jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    bad pg_catalog.text;
    secret pg_catalog.text := signing_secret;
    id pg_catalog.int8;
BEGIN
    IF (url IS NULL) OPERATOR(pg_catalog.=) (channel IS NULL) THEN
        RAISE EXCEPTION 'a watch needs exactly one target: url or channel'
            USING ERRCODE = '22023', HINT = 'noetl.watch(url => ''https://…'') or noetl.watch(channel => ''…'')';
    END IF;
    IF url IS NOT NULL AND url OPERATOR(pg_catalog.!~) '^https?://[^/?#]' THEN
        RAISE EXCEPTION 'url must be an http:// or https:// URL with a host'
            USING ERRCODE = '22023';
    END IF;
    IF channel IS NOT NULL AND (channel OPERATOR(pg_catalog.=) '' OR pg_catalog.octet_length(channel) OPERATOR(pg_catalog.>) 63) THEN
        RAISE EXCEPTION 'channel must be a name of 1 to 63 bytes'
            USING ERRCODE = '22023';
    END IF;
    IF names IS NOT NULL AND (pg_catalog.cardinality(names) OPERATOR(pg_catalog.=) 0 OR pg_catalog.array_position(names, NULL) IS NOT NULL) THEN
        RAISE EXCEPTION 'names must be NULL (every name) or a non-empty array of patterns without NULLs'
            USING ERRCODE = '22023';
    END IF;
    SELECT k INTO bad FROM pg_catalog.unnest(kinds) k
    WHERE k IS NULL OR NOT k OPERATOR(pg_catalog.=) ANY (ARRAY['set', 'delete', 'expire', 'cleanup']::pg_catalog.text[])
    LIMIT 1;
    IF kinds IS NULL OR pg_catalog.cardinality(kinds) OPERATOR(pg_catalog.=) 0 OR FOUND THEN
        RAISE EXCEPTION 'kinds must name one or more of set, delete, expire and cleanup, not %', COALESCE(pg_catalog.quote_literal(bad), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF include_values IS NULL OR NOT include_values OPERATOR(pg_catalog.=) ANY (ARRAY['none', 'new', 'both']::pg_catalog.text[]) THEN
        RAISE EXCEPTION 'include_values must be none, new or both, not %', COALESCE(pg_catalog.quote_literal(include_values), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF headers IS NULL OR pg_catalog.jsonb_typeof(headers) OPERATOR(pg_catalog.<>) 'object'
       OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(headers) h WHERE pg_catalog.jsonb_typeof(h.value) OPERATOR(pg_catalog.<>) 'string') THEN
        RAISE EXCEPTION 'headers must be a JSON object of strings'
            USING ERRCODE = '22023';
    END IF;
    IF channel IS NOT NULL AND headers OPERATOR(pg_catalog.<>) '{}'::pg_catalog.jsonb THEN
        RAISE EXCEPTION 'headers are for a url target, not a channel'
            USING ERRCODE = '22023';
    END IF;
    IF max_attempts IS NULL OR max_attempts OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'max_attempts must be at least 1'
            USING ERRCODE = '22023';
    END IF;
    IF secret IS NULL THEN
        -- 244 random bits from the server's strong random source.
        secret := pg_catalog.replace(pg_catalog.gen_random_uuid()::pg_catalog.text, '-', '')
                  OPERATOR(pg_catalog.||) pg_catalog.replace(pg_catalog.gen_random_uuid()::pg_catalog.text, '-', '');
    ELSIF pg_catalog.octet_length(secret) OPERATOR(pg_catalog.<) 16 THEN
        RAISE EXCEPTION 'signing_secret must be at least 16 bytes'
            USING ERRCODE = '22023', HINT = 'leave it out and one is generated';
    END IF;
    INSERT INTO noetl.watches (url, channel, headers, signing_secret, execution_id, names, kinds, include_values, max_attempts)
    VALUES (watch.url, watch.channel, watch.headers, secret, watch.execution_id, watch.names, watch.kinds, watch.include_values, watch.max_attempts)
    RETURNING watches.watch_id INTO id;
    RETURN pg_catalog.jsonb_build_object('watch_id', id, 'signing_secret', secret);
END
$body$;

-- Drops a watch and what its outbox still holds; true when it existed.
CREATE FUNCTION noetl.unwatch(watch_id pg_catalog.int8)
RETURNS pg_catalog.bool
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    DELETE FROM noetl.watch_outbox o WHERE o.watch_id OPERATOR(pg_catalog.=) unwatch.watch_id;
    DELETE FROM noetl.watches w WHERE w.watch_id OPERATOR(pg_catalog.=) unwatch.watch_id;
    RETURN FOUND;
END
$body$;

-- The next change due for delivery, locked for the caller's transaction (FOR UPDATE SKIP
-- LOCKED: concurrent workers never get the same row). Deliver it, then call watch_delivered or
-- watch_failed in the same transaction and commit. No row: nothing is due.
CREATE FUNCTION noetl.watch_claim()
RETURNS TABLE (seq pg_catalog.int8, watch_id pg_catalog.int8, url pg_catalog.text, channel pg_catalog.text,
               headers pg_catalog.jsonb, signing_secret pg_catalog.text, attempts pg_catalog.int4,
               max_attempts pg_catalog.int4, body pg_catalog.jsonb)
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    SELECT o.seq, o.watch_id, w.url, w.channel, w.headers, w.signing_secret, o.attempts, w.max_attempts,
           pg_catalog.jsonb_build_object(
               'event_id', o.seq, 'watch_id', o.watch_id, 'execution_id', o.execution_id,
               'name', o.var_name, 'kind', o.kind, 'operation', o.operation, 'changed_at', o.changed_at)
           OPERATOR(pg_catalog.||) CASE WHEN w.include_values OPERATOR(pg_catalog.=) 'none' THEN '{}'::pg_catalog.jsonb
                     ELSE pg_catalog.jsonb_build_object('new_value', o.new_value) END
           OPERATOR(pg_catalog.||) CASE WHEN w.include_values OPERATOR(pg_catalog.=) 'both'
                     THEN pg_catalog.jsonb_build_object('old_value', o.old_value) ELSE '{}'::pg_catalog.jsonb END
    FROM noetl.watch_outbox o
    JOIN noetl.watches w ON w.watch_id OPERATOR(pg_catalog.=) o.watch_id
    WHERE o.state OPERATOR(pg_catalog.=) 'pending'
      AND o.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()
    ORDER BY o.next_attempt_at, o.seq
    LIMIT 1
    FOR UPDATE OF o SKIP LOCKED
$body$;

-- Marks a claimed change delivered; false when it was not pending (already delivered).
CREATE FUNCTION noetl.watch_delivered(seq pg_catalog.int8)
RETURNS pg_catalog.bool
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    WITH done AS (
        UPDATE noetl.watch_outbox o
        SET state = 'delivered', delivered_at = pg_catalog.clock_timestamp(),
            attempts = o.attempts OPERATOR(pg_catalog.+) 1, last_error = NULL
        WHERE o.seq OPERATOR(pg_catalog.=) watch_delivered.seq AND o.state OPERATOR(pg_catalog.=) 'pending'
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM done)
$body$;

-- Records a failed attempt: due again after a backoff (2^attempts seconds, at most an hour),
-- or dead after the watch's max_attempts. Returns the row's state ('pending' or 'dead').
CREATE FUNCTION noetl.watch_failed(seq pg_catalog.int8, error pg_catalog.text)
RETURNS pg_catalog.text
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    UPDATE noetl.watch_outbox o
    SET attempts = o.attempts OPERATOR(pg_catalog.+) 1,
        last_error = pg_catalog.left(COALESCE(watch_failed.error, 'unknown error'), 1000),
        state = CASE WHEN o.attempts OPERATOR(pg_catalog.+) 1 OPERATOR(pg_catalog.>=) COALESCE(
                         (SELECT w.max_attempts FROM noetl.watches w WHERE w.watch_id OPERATOR(pg_catalog.=) o.watch_id), 1)
                     THEN 'dead' ELSE 'pending' END,
        next_attempt_at = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) pg_catalog.make_interval(
            secs => LEAST(3600, pg_catalog.power(2, LEAST(o.attempts, 12)))::pg_catalog.float8)
    WHERE o.seq OPERATOR(pg_catalog.=) watch_failed.seq AND o.state OPERATOR(pg_catalog.=) 'pending'
    RETURNING o.state
$body$;

-- Dead changes of one watch (or of all) due again, with their attempts reset; how many.
CREATE FUNCTION noetl.watch_retry(watch_id pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    WITH again AS (
        UPDATE noetl.watch_outbox o
        SET state = 'pending', attempts = 0, next_attempt_at = pg_catalog.clock_timestamp()
        WHERE o.state OPERATOR(pg_catalog.=) 'dead'
          AND (watch_retry.watch_id IS NULL OR o.watch_id OPERATOR(pg_catalog.=) watch_retry.watch_id)
        RETURNING 1
    )
    SELECT pg_catalog.count(*) FROM again
$body$;

-- Deletes delivered changes older than `older_than` (and dead ones too with include_dead, and
-- any of a dropped watch), at most `batch` per call; how many.
CREATE FUNCTION noetl.watch_purge(older_than pg_catalog.interval DEFAULT '7 days',
                                  include_dead pg_catalog.bool DEFAULT false,
                                  batch pg_catalog.int4 DEFAULT 10000)
RETURNS pg_catalog.int8
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    purged pg_catalog.int8;
BEGIN
    IF older_than IS NULL OR batch IS NULL OR batch OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'older_than must be an interval and batch a positive number of rows'
            USING ERRCODE = '22023';
    END IF;
    WITH doomed AS (
        SELECT o.seq FROM noetl.watch_outbox o
        WHERE NOT EXISTS (SELECT 1 FROM noetl.watches w WHERE w.watch_id OPERATOR(pg_catalog.=) o.watch_id)
           OR (o.state OPERATOR(pg_catalog.=) 'delivered'
               AND o.delivered_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than))
           OR (include_dead AND o.state OPERATOR(pg_catalog.=) 'dead'
               AND o.changed_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than))
        ORDER BY o.seq
        LIMIT batch
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM noetl.watch_outbox o USING doomed d WHERE o.seq OPERATOR(pg_catalog.=) d.seq RETURNING 1
    )
    SELECT pg_catalog.count(*) INTO purged FROM gone;
    RETURN purged;
END
$body$;

-- What each watch is and how far its delivery is: never its headers' values, its signing
-- secret, or the credentials or query of its URL.
CREATE VIEW noetl.watch_status AS
SELECT w.watch_id,
       CASE WHEN w.url IS NOT NULL
            THEN pg_catalog.regexp_replace(w.url, '^([A-Za-z]+://)([^/?#@]*@)?([^?#]*).*$', '\1\3')
            ELSE 'channel:' OPERATOR(pg_catalog.||) w.channel END AS target,
       w.execution_id, w.names, w.kinds, w.include_values,
       ARRAY(SELECT pg_catalog.jsonb_object_keys(w.headers) ORDER BY 1) AS header_names,
       COALESCE(s.pending, 0) AS pending,
       COALESCE(s.delivered, 0) AS delivered,
       COALESCE(s.dead, 0) AS dead,
       pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) s.oldest_pending AS lag,
       s.last_delivered_at,
       (SELECT o.last_error FROM noetl.watch_outbox o
        WHERE o.watch_id OPERATOR(pg_catalog.=) w.watch_id AND o.last_error IS NOT NULL
        ORDER BY o.seq DESC LIMIT 1) AS last_error,
       w.created_at
FROM noetl.watches w
LEFT JOIN LATERAL (
    SELECT pg_catalog.count(*) FILTER (WHERE o.state OPERATOR(pg_catalog.=) 'pending') AS pending,
           pg_catalog.count(*) FILTER (WHERE o.state OPERATOR(pg_catalog.=) 'delivered') AS delivered,
           pg_catalog.count(*) FILTER (WHERE o.state OPERATOR(pg_catalog.=) 'dead') AS dead,
           pg_catalog.min(o.changed_at) FILTER (WHERE o.state OPERATOR(pg_catalog.=) 'pending') AS oldest_pending,
           pg_catalog.max(o.delivered_at) AS last_delivered_at
    FROM noetl.watch_outbox o
    WHERE o.watch_id OPERATOR(pg_catalog.=) w.watch_id
) s ON true;

REVOKE ALL ON TABLE noetl.watches, noetl.watch_outbox, noetl.watch_status FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    noetl.watch(pg_catalog.text, pg_catalog.text, pg_catalog.int8, pg_catalog.text[], pg_catalog.text[], pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.int4),
    noetl.unwatch(pg_catalog.int8),
    noetl.watch_claim(),
    noetl.watch_delivered(pg_catalog.int8),
    noetl.watch_failed(pg_catalog.int8, pg_catalog.text),
    noetl.watch_retry(pg_catalog.int8),
    noetl.watch_purge(pg_catalog.interval, pg_catalog.bool, pg_catalog.int4),
    noetl.watches_changed()
FROM PUBLIC;

COMMENT ON TABLE noetl.watches IS
    'Subscriptions to changes of execution variables (noetl.watch, noetl.unwatch). Readable by the extension''s owner only: it holds signing secrets and headers; operators read noetl.watch_status.';
COMMENT ON COLUMN noetl.watches.watch_id IS 'The watch''s id, in every delivered body as watch_id.';
COMMENT ON COLUMN noetl.watches.url IS 'The webhook the delivery worker POSTs each change to (or NULL with a channel).';
COMMENT ON COLUMN noetl.watches.channel IS 'The NOTIFY channel the delivery worker sends each change on (or NULL with a url).';
COMMENT ON COLUMN noetl.watches.headers IS 'Extra HTTP headers of each POST (e.g. Authorization); never shown by noetl.watch_status.';
COMMENT ON COLUMN noetl.watches.signing_secret IS 'Key of the HMAC-SHA256 signature header of each delivery.';
COMMENT ON COLUMN noetl.watches.execution_id IS 'The execution watched; NULL: every execution.';
COMMENT ON COLUMN noetl.watches.names IS 'Name patterns watched (* any run of characters, ? one); NULL: every name.';
COMMENT ON COLUMN noetl.watches.kinds IS 'Kinds of change watched: set, delete, expire, cleanup.';
COMMENT ON COLUMN noetl.watches.include_values IS 'Values each change carries: none, new, or both (old and new); credentials always redacted.';
COMMENT ON COLUMN noetl.watches.max_attempts IS 'Attempts before a change is dead (left for noetl.watch_retry).';
COMMENT ON COLUMN noetl.watches.created_at IS 'When the watch was made.';
COMMENT ON TABLE noetl.watch_outbox IS
    'Changes that watches matched, written in the changing transaction; claimed, delivered and marked by the delivery worker, purged by noetl.watch_purge. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.watch_outbox.seq IS 'Order of capture; the event_id of the delivered body and its idempotency key.';
COMMENT ON COLUMN noetl.watch_outbox.watch_id IS 'The watch that matched.';
COMMENT ON COLUMN noetl.watch_outbox.execution_id IS 'The execution of the changed variable.';
COMMENT ON COLUMN noetl.watch_outbox.var_name IS 'The changed variable.';
COMMENT ON COLUMN noetl.watch_outbox.kind IS 'set, delete, expire or cleanup.';
COMMENT ON COLUMN noetl.watch_outbox.operation IS 'The row operation: insert, update or delete.';
COMMENT ON COLUMN noetl.watch_outbox.old_value IS 'The value before (include_values both), credentials redacted.';
COMMENT ON COLUMN noetl.watch_outbox.new_value IS 'The value after (include_values new or both), credentials redacted.';
COMMENT ON COLUMN noetl.watch_outbox.changed_at IS 'When the change was captured.';
COMMENT ON COLUMN noetl.watch_outbox.state IS 'pending (due at next_attempt_at), delivered, or dead (max_attempts failed).';
COMMENT ON COLUMN noetl.watch_outbox.attempts IS 'Delivery attempts so far.';
COMMENT ON COLUMN noetl.watch_outbox.next_attempt_at IS 'When a pending change is due.';
COMMENT ON COLUMN noetl.watch_outbox.delivered_at IS 'When it was delivered.';
COMMENT ON COLUMN noetl.watch_outbox.last_error IS 'Why the last attempt failed.';
COMMENT ON INDEX noetl.watch_outbox_due IS 'Pending changes by when they are due: what noetl.watch_claim reads.';
COMMENT ON INDEX noetl.watch_outbox_watch IS 'Changes by watch and state: noetl.watch_status and noetl.unwatch.';
COMMENT ON CONSTRAINT watches_target_check ON noetl.watches IS 'Exactly one of url and channel.';
COMMENT ON CONSTRAINT watches_url_check ON noetl.watches IS 'An http:// or https:// URL with a host.';
COMMENT ON CONSTRAINT watches_kinds_check ON noetl.watches IS 'One or more of set, delete, expire, cleanup.';
COMMENT ON CONSTRAINT watches_values_check ON noetl.watches IS 'none, new or both.';
COMMENT ON CONSTRAINT watches_attempts_check ON noetl.watches IS 'At least one attempt.';
COMMENT ON CONSTRAINT watch_outbox_state_check ON noetl.watch_outbox IS 'pending, delivered or dead.';
COMMENT ON VIEW noetl.watch_status IS
    'Each watch, its target (without credentials or query), header names, and its delivery: pending, delivered and dead changes, lag of the oldest pending one, last delivery, last error.';
COMMENT ON FUNCTION noetl.watches_changed() IS
    'Trigger of noetl.watches: every session reads the subscriptions again after a change to them commits.';
COMMENT ON TRIGGER watches_changed ON noetl.watches IS 'Tells every session the subscriptions changed.';
COMMENT ON FUNCTION noetl.watch(pg_catalog.text, pg_catalog.text, pg_catalog.int8, pg_catalog.text[], pg_catalog.text[], pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.int4) IS
    'Subscribes a webhook (url) or a NOTIFY channel to changes of execution variables: one execution or all, name patterns, kinds. Returns {"watch_id", "signing_secret"}; the secret is shown only here.';
COMMENT ON FUNCTION noetl.unwatch(pg_catalog.int8) IS 'Drops a watch and its undelivered changes; true when it existed.';
COMMENT ON FUNCTION noetl.watch_claim() IS
    'For the delivery worker: the next due change with its target, headers, signing secret and body, locked FOR UPDATE SKIP LOCKED for the caller''s transaction; no row when none is due.';
COMMENT ON FUNCTION noetl.watch_delivered(pg_catalog.int8) IS 'For the delivery worker: marks a claimed change delivered.';
COMMENT ON FUNCTION noetl.watch_failed(pg_catalog.int8, pg_catalog.text) IS
    'For the delivery worker: records a failed attempt; the change is due again after a backoff, or dead after max_attempts. Returns the new state.';
COMMENT ON FUNCTION noetl.watch_retry(pg_catalog.int8) IS 'Makes the dead changes of a watch (or of all watches) due again; how many.';
COMMENT ON FUNCTION noetl.watch_purge(pg_catalog.interval, pg_catalog.bool, pg_catalog.int4) IS
    'Deletes delivered changes older than older_than (dead ones too with include_dead), at most batch per call; how many.';

-- Typed variables (sql/declarations.sql, as a fresh install creates it), with the two
-- functions the library defines for them.
CREATE FUNCTION noetl."check_declared"() RETURNS pg_catalog.bool
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'check_declared_wrapper';
CREATE FUNCTION noetl."check_schema"("schema" pg_catalog.jsonb) RETURNS void
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'check_schema_wrapper';

CREATE TABLE noetl.declarations (
    declaration_id pg_catalog.int8        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    var_name       pg_catalog.text        NOT NULL,
    execution_id   pg_catalog.int8,
    playbook       pg_catalog.text,
    schema         pg_catalog.jsonb,
    sensitive      pg_catalog.bool        NOT NULL DEFAULT false,
    declared_at    pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    declared_by    pg_catalog.name        NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT declarations_one_scope CHECK (execution_id IS NULL OR playbook IS NULL),
    CONSTRAINT declarations_key UNIQUE NULLS NOT DISTINCT (var_name, execution_id, playbook)
);

SELECT pg_catalog.pg_extension_config_dump('noetl.declarations', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.declarations_declaration_id_seq', '');

-- Every session keeps the declarations it has used; a change tells every session to read
-- them again (a relation cache invalidation of noetl.declarations, sent at commit).
CREATE FUNCTION noetl.declarations_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'declarations_changed_wrapper';

CREATE TRIGGER declarations_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON noetl.declarations
    FOR EACH STATEMENT EXECUTE FUNCTION noetl.declarations_changed();

-- Plain SQL writes of the other scopes' values are checked too (the change trigger of
-- noetl.transient checks its own); the extension's functions check before they write.
CREATE FUNCTION noetl.scoped_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'scoped_changed_wrapper';

CREATE TRIGGER step_vars_declared
    AFTER INSERT OR UPDATE ON noetl.step_vars
    FOR EACH ROW WHEN (noetl.check_declared())
    EXECUTE FUNCTION noetl.scoped_changed();
CREATE TRIGGER workflow_vars_declared
    AFTER INSERT OR UPDATE ON noetl.workflow_vars
    FOR EACH ROW WHEN (noetl.check_declared())
    EXECUTE FUNCTION noetl.scoped_changed();
CREATE TRIGGER global_vars_declared
    AFTER INSERT OR UPDATE ON noetl.global_vars
    FOR EACH ROW WHEN (noetl.check_declared())
    EXECUTE FUNCTION noetl.scoped_changed();

-- Declares (or changes the declaration of) a variable name: for one execution, for the
-- executions of a playbook, or for all of them (both NULL).
CREATE FUNCTION noetl.declare_var(
    var_name pg_catalog.text,
    schema pg_catalog.jsonb DEFAULT NULL,
    sensitive pg_catalog.bool DEFAULT false,
    execution_id pg_catalog.int8 DEFAULT NULL,
    playbook pg_catalog.text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    IF var_name IS NULL OR sensitive IS NULL THEN
        RAISE EXCEPTION 'var_name and sensitive must not be NULL'
            USING ERRCODE = '22004';
    END IF;
    IF execution_id IS NOT NULL AND playbook IS NOT NULL THEN
        RAISE EXCEPTION 'a declaration is for one execution or for a playbook''s executions, not both'
            USING ERRCODE = '22023';
    END IF;
    PERFORM noetl.check_schema(declare_var.schema);
    INSERT INTO noetl.declarations AS d (var_name, execution_id, playbook, schema, sensitive)
    VALUES (declare_var.var_name, declare_var.execution_id, declare_var.playbook, declare_var.schema, declare_var.sensitive)
    ON CONFLICT ON CONSTRAINT declarations_key DO UPDATE
        SET schema = EXCLUDED.schema, sensitive = EXCLUDED.sensitive,
            declared_at = EXCLUDED.declared_at, declared_by = EXCLUDED.declared_by;
END
$body$;

-- Drops a declaration; true when there was one.
CREATE FUNCTION noetl.undeclare_var(
    var_name pg_catalog.text,
    execution_id pg_catalog.int8 DEFAULT NULL,
    playbook pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    DELETE FROM noetl.declarations d
    WHERE d.var_name OPERATOR(pg_catalog.=) undeclare_var.var_name
      AND d.execution_id IS NOT DISTINCT FROM undeclare_var.execution_id
      AND d.playbook IS NOT DISTINCT FROM undeclare_var.playbook;
    RETURN FOUND;
END
$body$;

-- Every declaration, for operators.
CREATE VIEW noetl.declared_vars AS
SELECT d.var_name,
       CASE WHEN d.execution_id IS NOT NULL THEN 'execution'
            WHEN d.playbook IS NOT NULL THEN 'playbook'
            ELSE 'all' END AS applies_to,
       d.execution_id, d.playbook, d.schema, d.sensitive, d.declared_at, d.declared_by
FROM noetl.declarations d;

REVOKE ALL ON TABLE noetl.declarations, noetl.declared_vars FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    noetl.declare_var(pg_catalog.text, pg_catalog.jsonb, pg_catalog.bool, pg_catalog.int8, pg_catalog.text),
    noetl.undeclare_var(pg_catalog.text, pg_catalog.int8, pg_catalog.text),
    noetl.declarations_changed(),
    noetl.scoped_changed(),
    noetl.check_schema(pg_catalog.jsonb)
FROM PUBLIC;

COMMENT ON TABLE noetl.declarations IS
    'Typed variables: a JSON Schema (and the sensitive flag) per variable name, for one execution, a playbook''s executions, or all. Written by noetl.declare_var and noetl.undeclare_var; rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.declarations.declaration_id IS 'The declaration''s id.';
COMMENT ON COLUMN noetl.declarations.var_name IS 'The variable name declared (in every scope: ctx, step, iter, workflow, global).';
COMMENT ON COLUMN noetl.declarations.execution_id IS 'The execution it is for; NULL with playbook NULL: every execution.';
COMMENT ON COLUMN noetl.declarations.playbook IS 'The playbook (catalog path) whose executions it is for.';
COMMENT ON COLUMN noetl.declarations.schema IS 'The JSON Schema (draft 2020-12) every value must match; NULL: any value.';
COMMENT ON COLUMN noetl.declarations.sensitive IS 'Whether values are sensitive (encryption at rest).';
COMMENT ON COLUMN noetl.declarations.declared_at IS 'When it was declared or last changed.';
COMMENT ON COLUMN noetl.declarations.declared_by IS 'The session user who declared or last changed it.';
COMMENT ON CONSTRAINT declarations_one_scope ON noetl.declarations IS 'One execution or one playbook, not both.';
COMMENT ON CONSTRAINT declarations_key ON noetl.declarations IS 'One declaration per name and scope.';
COMMENT ON FUNCTION noetl.declarations_changed() IS
    'Trigger of noetl.declarations: every session reads the declarations again after a change commits.';
COMMENT ON TRIGGER declarations_changed ON noetl.declarations IS 'Tells every session the declarations changed.';
COMMENT ON FUNCTION noetl.scoped_changed() IS
    'Trigger of noetl.step_vars, noetl.workflow_vars and noetl.global_vars: checks what plain SQL writes against the declarations.';
COMMENT ON TRIGGER step_vars_declared ON noetl.step_vars IS 'Checks plain SQL writes against the declarations.';
COMMENT ON TRIGGER workflow_vars_declared ON noetl.workflow_vars IS 'Checks plain SQL writes against the declarations.';
COMMENT ON TRIGGER global_vars_declared ON noetl.global_vars IS 'Checks plain SQL writes against the declarations.';
COMMENT ON FUNCTION noetl.declare_var(pg_catalog.text, pg_catalog.jsonb, pg_catalog.bool, pg_catalog.int8, pg_catalog.text) IS
    'Declares a variable name with a JSON Schema (draft 2020-12) and the sensitive flag, for one execution, a playbook''s executions, or all; declaring again changes it. An invalid schema is 22023 naming the keyword.';
COMMENT ON FUNCTION noetl.undeclare_var(pg_catalog.text, pg_catalog.int8, pg_catalog.text) IS
    'Drops the declaration of a variable name for that execution, playbook or all; true when there was one.';
COMMENT ON FUNCTION noetl.check_schema(pg_catalog.jsonb) IS
    'Refuses (22023, naming the keyword) a schema that is not a valid JSON Schema draft 2020-12 the extension can use; what declare_var checks.';
COMMENT ON FUNCTION noetl.check_declared() IS
    'The WHEN of the scoped tables'' triggers: something is declared and the write is plain SQL (the extension checks its own before writing).';
COMMENT ON VIEW noetl.declared_vars IS
    'Every declaration: name, what it applies to (execution, playbook or all), schema, sensitive, when and by whom.';

-- noetl.var_at is the library's from 0.6.0 on: it decrypts values stored encrypted.
CREATE OR REPLACE FUNCTION noetl."var_at"("execution_id" pg_catalog.int8, "var_name" pg_catalog.text, "at" pg_catalog.timestamptz)
RETURNS pg_catalog.jsonb
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', 'var_at_wrapper';
COMMENT ON FUNCTION noetl.var_at(pg_catalog.int8, pg_catalog.text, pg_catalog.timestamptz) IS
    'The value a variable had at a point in time, from noetl.transient_history (decrypted when it was stored encrypted); NULL when it did not exist then, was deleted, or history was off.';

-- Encryption at rest (sql/encryption.sql, as a fresh install creates it), with the rotation
-- function the library defines.
CREATE FUNCTION noetl."rotate_keys"("max_rows" pg_catalog.int4 DEFAULT 1000) RETURNS pg_catalog.jsonb
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'rotate_keys_wrapper';

-- One row: the rotation under way (or last finished), so that it resumes from any session.
CREATE TABLE noetl.key_rotation (
    only_row    pg_catalog.bool        NOT NULL DEFAULT true PRIMARY KEY,
    active_key  pg_catalog.text        NOT NULL,
    table_name  pg_catalog.text        NOT NULL,
    next_page   pg_catalog.int8        NOT NULL,
    rewritten   pg_catalog.int8        NOT NULL DEFAULT 0,
    started_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CONSTRAINT key_rotation_one_row CHECK (only_row)
);

-- Runs noetl.rotate_keys batches until every value is sealed under the active key, committing
-- after each batch (so it must be CALLed outside a transaction block) and reporting progress.
CREATE PROCEDURE noetl.rotate_keys_all(max_rows pg_catalog.int4 DEFAULT 1000)
LANGUAGE plpgsql
-- No SET clause: a procedure with one cannot COMMIT. Every name below is qualified.
AS $$
DECLARE
    batch pg_catalog.jsonb;
BEGIN
    LOOP
        batch := noetl.rotate_keys(max_rows);
        RAISE NOTICE 'noetl_vars key rotation to key %: % values rewritten, next: % page %',
            batch OPERATOR(pg_catalog.->>) 'active_key', batch OPERATOR(pg_catalog.->>) 'rewritten_total',
            batch OPERATOR(pg_catalog.->>) 'next_table', batch OPERATOR(pg_catalog.->>) 'next_page';
        COMMIT;
        EXIT WHEN (batch OPERATOR(pg_catalog.->>) 'done')::pg_catalog.bool;
        -- A pass left values another transaction held: give it a moment before the next.
        IF (batch OPERATOR(pg_catalog.->>) 'remaining')::pg_catalog.int8 OPERATOR(pg_catalog.>) 0 THEN
            PERFORM pg_catalog.pg_sleep(1);
        END IF;
    END LOOP;
END
$$;

REVOKE ALL ON TABLE noetl.key_rotation FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION noetl.rotate_keys(pg_catalog.int4) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE noetl.rotate_keys_all(pg_catalog.int4) FROM PUBLIC;

COMMENT ON TABLE noetl.key_rotation IS
    'Where the key rotation under way (or the last one) stands: the active key, the table and page it continues from, and how many values it rewrote.';
COMMENT ON COLUMN noetl.key_rotation.only_row IS 'Always true: the table holds one row.';
COMMENT ON COLUMN noetl.key_rotation.active_key IS 'The key id values are being sealed under.';
COMMENT ON COLUMN noetl.key_rotation.table_name IS 'The table the next batch continues in; done when the pass is over.';
COMMENT ON COLUMN noetl.key_rotation.next_page IS 'The page of that table the next batch starts at.';
COMMENT ON COLUMN noetl.key_rotation.rewritten IS 'Values sealed again so far under this key.';
COMMENT ON COLUMN noetl.key_rotation.started_at IS 'When the rotation to this key started.';
COMMENT ON COLUMN noetl.key_rotation.updated_at IS 'When the last batch ended.';
COMMENT ON FUNCTION noetl.rotate_keys(pg_catalog.int4) IS
    'One batch of a key rotation: seals again under the active key up to about max_rows values sealed under other keys (and values of variables declared sensitive still in clear), a few pages at a time, skipping rows another transaction holds; returns progress and done. Resumable from any session.';
COMMENT ON PROCEDURE noetl.rotate_keys_all(pg_catalog.int4) IS
    'Runs noetl.rotate_keys batches to the end, committing after each and reporting progress as NOTICEs. CALL it outside a transaction block.';
