-- noetl_vars: objects for operators. Every name is schema-qualified (see schema.sql).

-- One row per execution that has variables (those whose lifetime has ended do not count).
CREATE VIEW noetl.executions AS
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

-- noetl.purge_stale, noetl.purge_execution and noetl.purge_expired are the library's
-- (src/api/purge.rs).

-- Moves the rows of a noetl.transient created by the NoETL server's own DDL (renamed or moved
-- out of the way before CREATE EXTENSION) into the extension's table, all or nothing. The
-- legacy table belongs to another role, so only a plain table whose columns have built-in
-- types and no row security is read (a view, a foreign table, a type with its own input
-- function or a policy could run that role's code with the caller's rights), and only that
-- table itself (not tables inheriting from it).
CREATE FUNCTION noetl.adopt_transient(source pg_catalog.regclass)
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
