-- noetl_vars: the variable table. Runs before the functions are created.

-- A NoETL server may already have created noetl.transient with its own DDL. Say so plainly
-- instead of failing on "relation already exists".
DO $$
BEGIN
    IF pg_catalog.to_regclass('noetl.transient') IS NOT NULL THEN
        RAISE EXCEPTION 'noetl.transient already exists'
            USING ERRCODE = '42P07',
                  DETAIL = 'The table was probably created by the NoETL server''s own DDL.',
                  HINT = 'Move it aside (CREATE SCHEMA noetl_legacy; ALTER TABLE noetl.transient SET SCHEMA noetl_legacy), CREATE EXTENSION noetl_vars, then SELECT noetl.adopt_transient(''noetl_legacy.transient''); see the README.';
    END IF;
END
$$;

CREATE TABLE noetl.transient (
    execution_id BIGINT      NOT NULL,
    var_name     TEXT        NOT NULL,
    var_type     TEXT        NOT NULL DEFAULT 'user_defined',
    var_value    JSONB       NOT NULL,
    source_step  TEXT,
    access_count INTEGER     NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    accessed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (execution_id, var_name),
    CONSTRAINT transient_type_check
        CHECK (var_type IN ('user_defined', 'step_result', 'computed', 'iterator_state'))
);

-- The primary key already serves look-ups by execution_id.
CREATE INDEX idx_transient_source ON noetl.transient (source_step);
CREATE INDEX idx_transient_type ON noetl.transient (var_type);

-- pg_dump skips extension members' rows unless they are registered.
SELECT pg_catalog.pg_extension_config_dump('noetl.transient', '');

REVOKE ALL ON TABLE noetl.transient FROM PUBLIC;
