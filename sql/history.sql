-- noetl_vars: history of variables (noetl_vars.track_history = on).

CREATE TABLE noetl.transient_history (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id BIGINT      NOT NULL,
    var_name     TEXT        NOT NULL,
    operation    TEXT        NOT NULL,
    old_value    JSONB,
    new_value    JSONB,
    var_type     TEXT,
    source_step  TEXT,
    changed_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT transient_history_operation_check CHECK (operation IN ('insert', 'update', 'delete'))
);
CREATE INDEX idx_transient_history_lookup ON noetl.transient_history (execution_id, var_name, changed_at);

SELECT pg_catalog.pg_extension_config_dump('noetl.transient_history', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.transient_history_id_seq', '');

-- The value of a variable at a point in time, from the history: NULL when it did not exist
-- then (or was deleted), or when history was not being tracked.
CREATE FUNCTION noetl.var_at(execution_id bigint, var_name text, at timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT h.new_value
    FROM noetl.transient_history h
    WHERE h.execution_id = var_at.execution_id
      AND h.var_name = var_at.var_name
      AND h.changed_at <= var_at.at
    ORDER BY h.changed_at DESC, h.id DESC
    LIMIT 1;
END;
