-- noetl_vars: encryption at rest (docs/encryption.md). Variables declared sensitive are
-- stored sealed by the library (keys from noetl_vars.key_file or noetl_vars.key_command, never
-- from SQL); here is where a key rotation stands, and the procedure that runs one to the end.

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
