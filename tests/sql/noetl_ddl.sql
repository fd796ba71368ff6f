-- NoETL's start-up DDL for noetl.transient (tests/noetl/transient_ddl.sql) on a database with
-- the extension: run by the table's owner it changes no column, constraint, index, trigger or
-- row (comments aside), and the functions work in the same transaction; run by another role
-- the statements that need ownership fail with 42501 (docs/operations.md says what NoETL must
-- change).
\ir helpers.psql
SELECT noetl.set_vars(880, '{"a": 1, "b": "two"}') IS NOT NULL AS seeded;

-- Everything about the table but its comments, as one text.
CREATE FUNCTION pg_temp.table_facts() RETURNS text LANGUAGE sql AS $$
    SELECT pg_catalog.string_agg(fact, E'\n' ORDER BY fact) FROM (
        SELECT 'column ' || a.attnum || ' ' || a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
               || coalesce(' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '') AS fact
        FROM pg_catalog.pg_attribute a
        LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = 'noetl.transient'::regclass AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        -- (NOT NULL is the columns' attnotnull; PostgreSQL 18 also lists it as a constraint)
        SELECT 'constraint ' || conname || ' ' || pg_catalog.pg_get_constraintdef(oid)
        FROM pg_catalog.pg_constraint WHERE conrelid = 'noetl.transient'::regclass AND contype <> 'n'
        UNION ALL
        SELECT 'index ' || pg_catalog.pg_get_indexdef(indexrelid)
        FROM pg_catalog.pg_index WHERE indrelid = 'noetl.transient'::regclass
        UNION ALL
        SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(oid) || ' ' || tgenabled::text
        FROM pg_catalog.pg_trigger WHERE tgrelid = 'noetl.transient'::regclass
        UNION ALL
        SELECT 'member ' || pg_catalog.pg_describe_object(classid, objid, objsubid)
        FROM pg_catalog.pg_depend
        WHERE refclassid = 'pg_catalog.pg_extension'::regclass AND deptype = 'e'
          AND classid = 'pg_catalog.pg_class'::regclass
          AND objid IN (SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid = 'noetl.transient'::regclass)
        UNION ALL
        SELECT 'rows ' || pg_catalog.count(*) || ' ' || pg_catalog.md5(pg_catalog.string_agg(t::text, ',' ORDER BY execution_id, var_name))
        FROM noetl.transient t
    ) facts
$$;
CREATE TEMP TABLE before AS SELECT pg_temp.table_facts() AS facts;
SELECT pg_catalog.regexp_replace(facts, 'rows (\d+) [0-9a-f]+', 'rows \1 (and their md5)') AS facts FROM before;

-- Run by the owner (this superuser), in a transaction that is rolled back afterwards.
BEGIN;
SET LOCAL client_min_messages = warning;   -- "already exists, skipping"
\ir ../noetl/transient_ddl.sql
SELECT pg_temp.table_facts() = (SELECT facts FROM before) AS nothing_but_comments_changed;
SELECT noetl.set_var(880, 'c', '3') IS NOT NULL AS set_var_works,
       noetl.render_vars(880, 's', '{}', '{"d": "{{ vars.a + 1 }}"}') AS render_vars_works,
       noetl.apply_set(880, 's', '{"step.e": "{{ ctx.d + 1 }}"}') AS apply_set_works;
SELECT var_name, scope, expires_at FROM noetl.transient WHERE execution_id = 880 ORDER BY var_name;
ROLLBACK;

-- Run by an application role (not the table's owner): each statement that needs ownership
-- is refused, and nothing changes.
CREATE ROLE noetl_ddl_app;
GRANT USAGE, CREATE ON SCHEMA noetl TO noetl_ddl_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON noetl.transient TO noetl_ddl_app;
SET ROLE noetl_ddl_app;
SET client_min_messages = warning;
SELECT n, pg_temp.try(sql) AS outcome FROM (VALUES
 (1, $$CREATE TABLE IF NOT EXISTS noetl.transient (execution_id BIGINT NOT NULL, var_name TEXT NOT NULL, PRIMARY KEY (execution_id, var_name))$$),
 (2, $$CREATE INDEX IF NOT EXISTS idx_transient_type ON noetl.transient (var_type)$$),
 (3, $$CREATE INDEX IF NOT EXISTS idx_transient_execution ON noetl.transient (execution_id)$$),
 (4, $$COMMENT ON TABLE noetl.transient IS 'Execution-scoped variables for playbook runtime with cache tracking'$$),
 (5, $q$DO $d$ BEGIN ALTER TABLE noetl.transient ADD COLUMN IF NOT EXISTS expires_at TIMESTAMPTZ; EXCEPTION WHEN duplicate_column THEN NULL; END $d$$q$),
 (6, $$CREATE INDEX IF NOT EXISTS idx_transient_expires ON noetl.transient (expires_at) WHERE expires_at IS NOT NULL$$)
) AS t(n, sql) ORDER BY n;
RESET client_min_messages;
RESET ROLE;
SELECT pg_temp.table_facts() = (SELECT facts FROM before) AS unchanged;
REVOKE ALL ON SCHEMA noetl FROM noetl_ddl_app;
REVOKE ALL ON noetl.transient FROM noetl_ddl_app;
DROP ROLE noetl_ddl_app;
SELECT noetl.cleanup_execution(880);
