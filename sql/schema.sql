-- noetl_vars: the variable table. Runs before the functions are created. Every name in the
-- extension's scripts is schema-qualified, pg_catalog included: CREATE EXTENSION resolves
-- names through search_path = noetl, and a look-alike function or operator there must never
-- be what an object of the extension calls.

-- A schema noetl that existed before CREATE EXTENSION belongs to whoever created it. If that
-- is another role that is not a superuser (the NoETL server's), it may hold functions or
-- operators made to be picked up by the extension's objects, which run with the rights of
-- whoever uses them (a superuser reading noetl.executions, say). Refuse to install into it.
DO $$
DECLARE
    owner pg_catalog.text;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(n.nspowner) INTO owner
    FROM pg_catalog.pg_namespace n
    WHERE n.nspname OPERATOR(pg_catalog.=) 'noetl'
      AND n.nspowner OPERATOR(pg_catalog.<>) (
          SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
      AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) n.nspowner);
    IF owner IS NOT NULL THEN
        RAISE EXCEPTION 'schema noetl is owned by role %, not by %, the role installing noetl_vars', owner, CURRENT_USER
            USING ERRCODE = '42501',
                  DETAIL = 'Objects the extension creates in a schema another role controls could be made to call that role''s functions.',
                  HINT = pg_catalog.format('Check what the schema holds (\dn+ noetl, \df noetl.*, \do noetl.*), then ALTER SCHEMA noetl OWNER TO %s and retry; see docs/operations.md, "Adopting an existing database".', CURRENT_USER);
    END IF;
    -- The same holds for a role that may create objects in it.
    SELECT pg_catalog.string_agg(CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'
                                      ELSE pg_catalog.pg_get_userbyid(a.grantee)::pg_catalog.text END, ', ') INTO owner
    FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
    WHERE n.nspname OPERATOR(pg_catalog.=) 'noetl'
      AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
      AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
      AND NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) a.grantee), false);
    IF owner IS NOT NULL THEN
        RAISE EXCEPTION 'other roles may create objects in schema noetl: %', owner
            USING ERRCODE = '42501',
                  DETAIL = 'Objects the extension creates in a schema another role can write could be made to call that role''s functions.',
                  HINT = pg_catalog.format('REVOKE CREATE ON SCHEMA noetl FROM %s (the extension''s objects need no such grant), then retry.', owner);
    END IF;
END
$$;

-- A NoETL server may already have created noetl.transient with its own DDL. Say so plainly
-- instead of failing on "relation already exists".
DO $$
BEGIN
    IF pg_catalog.to_regclass('noetl.transient') IS NOT NULL THEN
        RAISE EXCEPTION 'noetl.transient already exists'
            USING ERRCODE = '42P07',
                  DETAIL = 'The table was probably created by the NoETL server''s own DDL.',
                  HINT = 'Move it aside (CREATE SCHEMA noetl_legacy; ALTER TABLE noetl.transient SET SCHEMA noetl_legacy), CREATE EXTENSION noetl_vars, then SELECT noetl.adopt_transient(''noetl_legacy.transient''); see docs/operations.md, "Adopting an existing database".';
    END IF;
END
$$;

CREATE TABLE noetl.transient (
    execution_id pg_catalog.int8        NOT NULL,
    var_name     pg_catalog.text        NOT NULL,
    var_type     pg_catalog.text        NOT NULL DEFAULT 'user_defined',
    var_value    pg_catalog.jsonb       NOT NULL,
    source_step  pg_catalog.text,
    access_count pg_catalog.int4        NOT NULL DEFAULT 0,
    created_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    accessed_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- The primary key's index serves look-ups by execution_id. It is named as NoETL's start-up
    -- DDL names its index on execution_id, so that that DDL's CREATE INDEX IF NOT EXISTS finds
    -- it and adds nothing (a second index would cost every write its upkeep).
    CONSTRAINT idx_transient_execution PRIMARY KEY (execution_id, var_name),
    CONSTRAINT transient_type_check
        CHECK (var_type OPERATOR(pg_catalog.=) ANY (ARRAY['user_defined', 'step_result', 'computed', 'iterator_state']::pg_catalog.text[])),
    -- NoETL's lifetime columns, as its start-up DDL declares them (so that DDL changes nothing).
    expires_at   pg_catalog.timestamptz,
    scope        pg_catalog.text DEFAULT 'execution'
        CONSTRAINT transient_scope_check
        CHECK (scope OPERATOR(pg_catalog.=) ANY (ARRAY['step', 'execution', 'workflow', 'permanent']::pg_catalog.text[]))
);

CREATE INDEX idx_transient_source ON noetl.transient (source_step);
CREATE INDEX idx_transient_type ON noetl.transient (var_type);
-- Variables with a lifetime, by when it ends (NoETL's partial index, by its name).
CREATE INDEX idx_transient_expires ON noetl.transient (expires_at) WHERE expires_at IS NOT NULL;

-- pg_dump skips extension members' rows unless they are registered.
SELECT pg_catalog.pg_extension_config_dump('noetl.transient', '');

REVOKE ALL ON TABLE noetl.transient FROM PUBLIC;
