-- noetl_vars 0.1.0 -> 0.2.0: hardening and operations.
--   * history (noetl.transient_history, noetl.var_at) and change events (NOTIFY noetl_vars),
--     captured by triggers that stay silent unless noetl_vars.track_history/notify is on
--   * noetl.executions and noetl.purge_stale for operators, noetl.adopt_transient for
--     databases whose noetl.transient was created by the NoETL server
--   * least privilege: nothing is executable by PUBLIC any more
-- Frozen once released: later versions add their own script rather than editing this one.
-- (Edited once, for 0.3.0: every name is now schema-qualified, pg_catalog included, with the
-- same meaning as before; an unqualified name could bind to a look-alike in schema noetl.)
\echo Use "ALTER EXTENSION noetl_vars UPDATE TO '0.2.0'" to load this file. \quit

-- History.

CREATE TABLE noetl.transient_history (
    id           pg_catalog.int8        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id pg_catalog.int8        NOT NULL,
    var_name     pg_catalog.text        NOT NULL,
    operation    pg_catalog.text        NOT NULL,
    old_value    pg_catalog.jsonb,
    new_value    pg_catalog.jsonb,
    var_type     pg_catalog.text,
    source_step  pg_catalog.text,
    changed_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CONSTRAINT transient_history_operation_check
        CHECK (operation OPERATOR(pg_catalog.=) ANY (ARRAY['insert', 'update', 'delete']::pg_catalog.text[]))
);
CREATE INDEX idx_transient_history_lookup ON noetl.transient_history (execution_id, var_name, changed_at);

SELECT pg_catalog.pg_extension_config_dump('noetl.transient_history', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.transient_history_id_seq', '');

-- The value of a variable at a point in time, from the history: NULL when it did not exist
-- then (or was deleted), or when history was not being tracked.
CREATE FUNCTION noetl.var_at(execution_id pg_catalog.int8, var_name pg_catalog.text, at pg_catalog.timestamptz)
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

-- Functions of the shared library that are new in 0.2.0.
CREATE FUNCTION noetl."capture_changes"() RETURNS bool
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'capture_changes_wrapper';

CREATE FUNCTION noetl."transient_changed"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'transient_changed_wrapper';

CREATE FUNCTION noetl."purge_stale"(
	"older_than" interval,
	"max_executions" INT DEFAULT 1000
) RETURNS TABLE (
	"execution_id" bigint,
	"variables" INT,
	"last_activity" timestamp with time zone
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'purge_stale_wrapper';

-- Change capture.

CREATE TRIGGER transient_changed_insert
    AFTER INSERT ON noetl.transient
    FOR EACH ROW WHEN (noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();

CREATE TRIGGER transient_changed_update
    AFTER UPDATE ON noetl.transient
    FOR EACH ROW WHEN (OLD.access_count OPERATOR(pg_catalog.=) NEW.access_count AND noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();

CREATE TRIGGER transient_changed_delete
    AFTER DELETE ON noetl.transient
    FOR EACH ROW WHEN (noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();

-- Operators.

-- One row per execution that has variables.
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

-- Privileges.
REVOKE ALL ON TABLE noetl.transient, noetl.transient_history, noetl.executions FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    noetl.set_var(bigint, text, jsonb, text, text),
    noetl.get_var(bigint, text),
    noetl.get_all_vars(bigint),
    noetl.set_vars(bigint, jsonb, text, text),
    noetl.delete_var(bigint, text),
    noetl.cleanup_execution(bigint),
    noetl.vars_list(bigint),
    noetl.vars_get(bigint, text),
    noetl.vars_delete(bigint, text),
    noetl.vars_cleanup(bigint),
    noetl.render_vars(bigint, text, jsonb, jsonb, jsonb, text),
    noetl.render_iteration(bigint, text, jsonb, integer, integer, jsonb, jsonb, jsonb),
    noetl.var_at(bigint, text, timestamptz),
    noetl.purge_stale(interval, integer),
    noetl.adopt_transient(regclass),
    noetl.transient_changed()
FROM PUBLIC;
-- The change trigger writes history with the extension owner's rights, so application roles
-- need no access to the history table and cannot forge it. Every statement it runs is
-- schema-qualified; the fixed search_path is a second line of defence.
ALTER FUNCTION noetl.transient_changed() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Documentation of the new objects.
COMMENT ON TABLE noetl.transient_history IS
    'Every write and delete of a variable while noetl_vars.track_history is on, recorded in the writing transaction. Read it with noetl.var_at().';
COMMENT ON COLUMN noetl.transient_history.operation IS 'insert, update or delete.';
COMMENT ON COLUMN noetl.transient_history.old_value IS 'The value before the change; NULL for an insert.';
COMMENT ON COLUMN noetl.transient_history.new_value IS 'The value after the change; NULL for a delete.';
COMMENT ON COLUMN noetl.transient_history.changed_at IS 'clock_timestamp() of the change.';
COMMENT ON INDEX noetl.idx_transient_history_lookup IS 'History of one variable in time order.';
COMMENT ON VIEW noetl.executions IS
    'One row per execution with variables: how many, their total size, first and last write, last read, tracked reads and the most-read variables.';
COMMENT ON FUNCTION noetl.var_at(bigint, text, timestamptz) IS
    'The value a variable had at a point in time, from noetl.transient_history; NULL when it did not exist then, was deleted, or history was off.';
COMMENT ON FUNCTION noetl.purge_stale(interval, integer) IS
    'Deletes the variables of executions untouched (no write, no tracked read) for longer than older_than, at most max_executions per call, oldest first; skips executions in use. Returns one row per execution removed. Schedule it with pg_cron.';
COMMENT ON FUNCTION noetl.adopt_transient(regclass) IS
    'Moves every row of a legacy noetl.transient (created by the NoETL server''s DDL and moved aside before CREATE EXTENSION) into the extension''s table, all or nothing; returns the number of rows. The legacy table is left in place.';
COMMENT ON FUNCTION noetl.capture_changes() IS
    'Whether noetl_vars.track_history or noetl_vars.notify is on; the WHEN clause of the change triggers.';
COMMENT ON FUNCTION noetl.transient_changed() IS
    'Trigger function on noetl.transient: appends history (noetl_vars.track_history) and collects changed names for NOTIFY noetl_vars (noetl_vars.notify).';
COMMENT ON TRIGGER transient_changed_insert ON noetl.transient IS 'Change capture for inserts, when enabled.';
COMMENT ON TRIGGER transient_changed_update ON noetl.transient IS 'Change capture for writes (not tracked reads), when enabled.';
COMMENT ON TRIGGER transient_changed_delete ON noetl.transient IS 'Change capture for deletes, when enabled.';
