-- Adopting a database whose noetl.transient was created by the NoETL server's own DDL.
CREATE DATABASE noetl_vars_adopt;
\c noetl_vars_adopt

-- The server's table (noetl/database/ddl/postgres/schema_ddl.sql), with the extra columns
-- some deployments have.
CREATE SCHEMA noetl;
CREATE TABLE noetl.transient (
    execution_id BIGINT NOT NULL,
    var_name TEXT NOT NULL,
    var_type TEXT NOT NULL CHECK (var_type IN ('user_defined', 'step_result', 'computed', 'iterator_state')),
    var_value JSONB NOT NULL,
    source_step TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    accessed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    access_count INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ,
    scope TEXT,
    PRIMARY KEY (execution_id, var_name)
);
CREATE INDEX idx_transient_type ON noetl.transient (var_type);
CREATE INDEX idx_transient_source ON noetl.transient (source_step);
CREATE INDEX idx_transient_execution ON noetl.transient (execution_id);
INSERT INTO noetl.transient (execution_id, var_name, var_type, var_value, source_step, created_at, accessed_at, access_count, expires_at, scope)
SELECT 7205759403792793600 + g % 7, 'var_' || g, (ARRAY['user_defined', 'step_result', 'computed', 'iterator_state'])[1 + g % 4],
       jsonb_build_object('n', g, 'big', 12345678901234567890123, 'text', repeat('x', g % 50)),
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'step_' || g % 5 END,
       '2026-01-01'::timestamptz + g * interval '1 minute', '2026-02-01'::timestamptz + g * interval '1 minute',
       g % 11, now() + interval '1 day', 'execution'
FROM generate_series(1, 1000) g;

-- CREATE EXTENSION refuses clearly. (Shown without its CONTEXT: PostgreSQL 18 adds the
-- script's text to it, earlier majors only the line that raised.)
\set SHOW_CONTEXT never
CREATE EXTENSION noetl_vars;
\set SHOW_CONTEXT errors

-- The documented procedure: move the table aside, create the extension, adopt the rows.
CREATE SCHEMA noetl_legacy;
ALTER TABLE noetl.transient SET SCHEMA noetl_legacy;
CREATE EXTENSION noetl_vars;
SELECT noetl.adopt_transient('noetl_legacy.transient') AS adopted;

-- Every row, every column the extension has, exactly.
SELECT count(*) AS missing FROM (
    SELECT execution_id, var_name, var_type, var_value, source_step, access_count, created_at, accessed_at, expires_at, scope FROM noetl_legacy.transient
    EXCEPT
    SELECT execution_id, var_name, var_type, var_value, source_step, access_count, created_at, accessed_at, expires_at, scope FROM noetl.transient
) m;
SELECT count(*) AS extension_rows FROM noetl.transient;
SELECT noetl.vars_get(7205759403792793601, 'var_1')->'value'->'big' AS exact_big_int;

-- Adopting twice would duplicate: refused, nothing changes.
SELECT noetl.adopt_transient('noetl_legacy.transient');
SELECT noetl.adopt_transient('noetl.transient');
SELECT noetl.adopt_transient(NULL);
CREATE TABLE noetl_legacy.not_vars (id int);
SELECT noetl.adopt_transient('noetl_legacy.not_vars');
SELECT count(*) AS extension_rows FROM noetl.transient;

\c noetl_vars_regress
DROP DATABASE noetl_vars_adopt;
