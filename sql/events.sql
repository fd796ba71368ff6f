-- noetl_vars: events applied at most once (docs/reference.md, "Re-running"). A call of
-- render_vars, render_iteration or apply_set with an event_id records it here before it takes
-- any lock; a later call with the same id returns the recorded result and writes nothing.
-- Ids are compared byte for byte (COLLATE "C"): they are only ever matched, never sorted for
-- people, and the primary key's comparisons then cost a memcmp instead of the locale's.
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
