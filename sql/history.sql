-- noetl_vars: history of variables (noetl_vars.track_history = on).

-- Keyed by execution first: Citus distributes a table only by a column of each of its unique
-- keys, and history goes with its execution (docs/scale-out.md).
CREATE TABLE noetl.transient_history (
    id           pg_catalog.int8        GENERATED ALWAYS AS IDENTITY,
    execution_id pg_catalog.int8        NOT NULL,
    var_name     pg_catalog.text        NOT NULL,
    operation    pg_catalog.text        NOT NULL,
    old_value    pg_catalog.jsonb,
    new_value    pg_catalog.jsonb,
    var_type     pg_catalog.text,
    source_step  pg_catalog.text,
    changed_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CONSTRAINT transient_history_operation_check
        CHECK (operation OPERATOR(pg_catalog.=) ANY (ARRAY['insert', 'update', 'delete']::pg_catalog.text[])),
    CONSTRAINT transient_history_pkey PRIMARY KEY (execution_id, id)
);
CREATE INDEX idx_transient_history_lookup ON noetl.transient_history (execution_id, var_name, changed_at);

SELECT pg_catalog.pg_extension_config_dump('noetl.transient_history', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.transient_history_id_seq', '');

-- noetl.var_at(execution_id, var_name, at), the value of a variable at a point in time, is
-- defined by the library (src/api/admin.rs): it decrypts what was stored sealed.
