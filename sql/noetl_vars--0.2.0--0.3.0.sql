-- noetl_vars 0.2.0 -> 0.3.0: production safety.
--   * refuses to update in a schema noetl that another role owns or may create objects in
--     (that role could replace the extension's functions or capture calls to them)
--   * every object is created with fully qualified names (pg_catalog included): the operator
--     view, var_at and the trigger conditions are created again, so that none of them can be
--     bound to a look-alike function or operator that was in schema noetl when an earlier
--     version was installed or updated
--   * history records every change of value, type, source step or key (a rename as a delete
--     and an insert), also when a plain UPDATE moves access_count at the same time
--   * adopt_transient reads only plain tables with built-in column types, and locks
--     noetl.transient against writers while it copies
--   * the trigger function refuses to run for any table but noetl.transient (src/changes.rs)
-- Everything else of 0.3.0 (locking, settings, the evaluation stack) is in the library.
-- Frozen once released: later versions add their own script rather than editing this one.
\echo Use "ALTER EXTENSION noetl_vars UPDATE TO '0.3.0'" to load this file. \quit

-- Earlier versions installed into a schema noetl whoever owned it; 0.3.0 refuses to go on
-- in a schema another role owns or may create objects in.
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
GROUP BY t.execution_id;


CREATE OR REPLACE FUNCTION noetl.var_at(execution_id pg_catalog.int8, var_name pg_catalog.text, at pg_catalog.timestamptz)
RETURNS pg_catalog.jsonb
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT h.new_value
    FROM noetl.transient_history h
    WHERE h.execution_id OPERATOR(pg_catalog.=) var_at.execution_id
      AND h.var_name OPERATOR(pg_catalog.=) var_at.var_name
      AND h.changed_at OPERATOR(pg_catalog.<=) var_at.at
    ORDER BY h.changed_at DESC, h.id DESC
    LIMIT 1;
END;

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
                                                     'source_step', 'access_count', 'created_at', 'accessed_at']::pg_catalog.name[])
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
        '                             access_count, created_at, accessed_at)'
        ' SELECT execution_id, var_name, %s, var_value::pg_catalog.jsonb, %s, %s, %s, %s FROM ONLY %s',
        CASE WHEN 'var_type' OPERATOR(pg_catalog.=) ANY (cols) THEN 'COALESCE(var_type, ''user_defined'')' ELSE '''user_defined''' END,
        CASE WHEN 'source_step' OPERATOR(pg_catalog.=) ANY (cols) THEN 'source_step' ELSE 'NULL' END,
        CASE WHEN 'access_count' OPERATOR(pg_catalog.=) ANY (cols) THEN 'COALESCE(access_count, 0)' ELSE '0' END,
        CASE WHEN 'created_at' OPERATOR(pg_catalog.=) ANY (cols) THEN 'COALESCE(created_at, pg_catalog.now())' ELSE 'pg_catalog.now()' END,
        CASE WHEN 'accessed_at' OPERATOR(pg_catalog.=) ANY (cols) THEN 'COALESCE(accessed_at, pg_catalog.now())' ELSE 'pg_catalog.now()' END,
        source);
    GET DIAGNOSTICS copied = ROW_COUNT;
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM ONLY %s', source) INTO source_rows;
    IF copied OPERATOR(pg_catalog.<>) source_rows THEN
        RAISE EXCEPTION 'copied % of % rows of %', copied, source_rows, source USING ERRCODE = 'XX000';
    END IF;
    RETURN copied;
END
$body$;

DROP TRIGGER transient_changed_update ON noetl.transient;
CREATE TRIGGER transient_changed_update
    AFTER UPDATE ON noetl.transient
    FOR EACH ROW WHEN (noetl.capture_changes()
                       AND (OLD.access_count OPERATOR(pg_catalog.=) NEW.access_count
                            -- as text: jsonb's = calls 1 and 1.000 equal, history must not
                            OR NOT (OLD.var_value::pg_catalog.text OPERATOR(pg_catalog.=) NEW.var_value::pg_catalog.text)
                            OR NOT (OLD.var_type OPERATOR(pg_catalog.=) NEW.var_type)
                            OR NOT COALESCE(OLD.source_step OPERATOR(pg_catalog.=) NEW.source_step,
                                            OLD.source_step IS NULL AND NEW.source_step IS NULL)
                            OR NOT (OLD.execution_id OPERATOR(pg_catalog.=) NEW.execution_id)
                            OR NOT (OLD.var_name OPERATOR(pg_catalog.=) NEW.var_name)))
    EXECUTE FUNCTION noetl.transient_changed();

-- Privileges of the re-created function (CREATE OR REPLACE keeps them; restated here).
REVOKE EXECUTE ON FUNCTION noetl.adopt_transient(pg_catalog.regclass), noetl.var_at(pg_catalog.int8, pg_catalog.text, pg_catalog.timestamptz) FROM PUBLIC;

COMMENT ON FUNCTION noetl.get_var(pg_catalog.int8, pg_catalog.text) IS
    'The value of one variable, or NULL when it does not exist. A tracked read: access_count + 1, accessed_at = now(); uncounted on a hot standby or in a read-only transaction.';
COMMENT ON FUNCTION noetl.vars_get(pg_catalog.int8, pg_catalog.text) IS
    'The GET /api/vars/{id}/{name} body, or NULL when the variable does not exist (the server answers 404). A tracked read; uncounted on a hot standby or in a read-only transaction.';
COMMENT ON FUNCTION noetl.transient_changed() IS
    'Trigger function of noetl.transient only (it refuses any other table): appends history (noetl_vars.track_history) and collects changes for NOTIFY noetl_vars (noetl_vars.notify).';
COMMENT ON TRIGGER transient_changed_update ON noetl.transient IS 'Change capture for updates that change a value, type, source step or key (not tracked reads), when enabled.';
COMMENT ON VIEW noetl.executions IS
    'One row per execution with variables: how many, their total size, first and last write, last read, tracked reads and the most-read variables.';
COMMENT ON FUNCTION noetl.adopt_transient(pg_catalog.regclass) IS
    'Moves every row of a legacy noetl.transient (created by the NoETL server''s DDL and moved aside before CREATE EXTENSION) into the extension''s table, all or nothing; returns the number of rows. The legacy table is left in place.';
COMMENT ON FUNCTION noetl.var_at(pg_catalog.int8, pg_catalog.text, pg_catalog.timestamptz) IS
    'The value a variable had at a point in time, from noetl.transient_history; NULL when it did not exist then, was deleted, or history was off.';
