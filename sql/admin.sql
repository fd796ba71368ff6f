-- noetl_vars: objects for operators.

-- One row per execution that has variables.
CREATE VIEW noetl.executions AS
SELECT t.execution_id,
       count(*)::integer                                AS variables,
       sum(pg_column_size(t.var_value))::bigint         AS value_bytes,
       min(t.created_at)                                AS first_write,
       -- Exact with track_history on; otherwise the last creation, or the last write of a
       -- variable never read (its accessed_at only moves on writes).
       GREATEST(max(t.created_at),
                max(t.accessed_at) FILTER (WHERE t.access_count = 0),
                (SELECT max(h.changed_at) FROM noetl.transient_history h
                 WHERE h.execution_id = t.execution_id)) AS last_write,
       max(t.accessed_at) FILTER (WHERE t.access_count > 0) AS last_read,
       sum(t.access_count)::bigint                      AS reads,
       (array_agg(t.var_name ORDER BY t.access_count DESC, t.var_name)
            FILTER (WHERE t.access_count > 0))[1:5]     AS most_read
FROM noetl.transient t
GROUP BY t.execution_id;

-- Moves the rows of a noetl.transient created by the NoETL server's own DDL (renamed or moved
-- out of the way before CREATE EXTENSION) into the extension's table, all or nothing.
CREATE FUNCTION noetl.adopt_transient(source regclass)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    cols text[];
    missing text[];
    clashes bigint;
    source_rows bigint;
    copied bigint;
BEGIN
    IF source IS NULL THEN
        RAISE EXCEPTION 'source must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF source = 'noetl.transient'::regclass THEN
        RAISE EXCEPTION 'source must be the legacy table, not noetl.transient itself'
            USING ERRCODE = '22023',
                  HINT = 'move the legacy table out of the way first: ALTER TABLE noetl.transient SET SCHEMA noetl_legacy';
    END IF;
    SELECT array_agg(a.attname::text) INTO cols
    FROM pg_attribute a WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT array_agg(c) INTO missing
    FROM unnest(ARRAY['execution_id', 'var_name', 'var_value']) AS c WHERE NOT c = ANY (cols);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION '% has no column %', source, array_to_string(missing, ', ')
            USING ERRCODE = '42703';
    END IF;

    -- No writes to the legacy table while its rows move.
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', source);
    EXECUTE format('SELECT count(*) FROM %s s JOIN noetl.transient t USING (execution_id, var_name)', source)
        INTO clashes;
    IF clashes > 0 THEN
        RAISE EXCEPTION '% variables of % already exist in noetl.transient', clashes, source
            USING ERRCODE = '23505',
                  HINT = 'adopt into an empty noetl.transient, or delete the clashing variables first';
    END IF;

    EXECUTE format(
        'INSERT INTO noetl.transient (execution_id, var_name, var_type, var_value, source_step,'
        '                             access_count, created_at, accessed_at)'
        ' SELECT execution_id, var_name, %s, var_value::jsonb, %s, %s, %s, %s FROM %s',
        CASE WHEN 'var_type' = ANY (cols) THEN 'coalesce(var_type, ''user_defined'')' ELSE '''user_defined''' END,
        CASE WHEN 'source_step' = ANY (cols) THEN 'source_step' ELSE 'NULL' END,
        CASE WHEN 'access_count' = ANY (cols) THEN 'coalesce(access_count, 0)' ELSE '0' END,
        CASE WHEN 'created_at' = ANY (cols) THEN 'coalesce(created_at, now())' ELSE 'now()' END,
        CASE WHEN 'accessed_at' = ANY (cols) THEN 'coalesce(accessed_at, now())' ELSE 'now()' END,
        source);
    GET DIAGNOSTICS copied = ROW_COUNT;
    EXECUTE format('SELECT count(*) FROM %s', source) INTO source_rows;
    IF copied <> source_rows THEN
        RAISE EXCEPTION 'copied % of % rows of %', copied, source_rows, source USING ERRCODE = 'XX000';
    END IF;
    RETURN copied;
END
$body$;
