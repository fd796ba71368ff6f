-- noetl_vars 0.3.0 -> 0.4.0: cheaper writes.
--   * the update trigger's WHEN is only noetl.capture_changes(), like the other two: the test
--     that leaves tracked reads out of history and change events moved into the trigger
--     function (src/changes.rs), which runs only while capture is on. PostgreSQL parses a
--     trigger's WHEN again in every statement that fires it, so the long condition cost every
--     write (capture on or off) about a third of a one-row upsert.
-- Frozen once released: later versions add their own script rather than editing this one.
\echo Use "ALTER EXTENSION noetl_vars UPDATE TO '0.4.0'" to load this file. \quit

-- As in every update since 0.3.0: refused in a schema noetl another role owns or may create
-- objects in (that role could replace the extension's functions or capture calls to them).
-- The check of a fresh install (sql/schema.sql): a schema noetl owned by, or writable for, a
-- role that is neither the one updating nor a superuser is refused.
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
        RAISE EXCEPTION 'schema noetl is owned by role %, not by %, the role updating noetl_vars', owner, CURRENT_USER
            USING ERRCODE = '42501',
                  DETAIL = 'Objects the extension creates in a schema another role controls could be made to call that role''s functions.',
                  HINT = pg_catalog.format('Check what the schema holds (\dn+ noetl, \df noetl.*, \do noetl.*), then ALTER SCHEMA noetl OWNER TO %s and retry; see the README, "Adopting an existing database".', CURRENT_USER);
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

-- CREATE OR REPLACE TRIGGER keeps the trigger (its comment included) but enables it anew:
-- an operator's DISABLE, ENABLE REPLICA or ENABLE ALWAYS of it is put back afterwards.
DO $$
DECLARE
    state pg_catalog."char";
BEGIN
    SELECT t.tgenabled INTO state FROM pg_catalog.pg_trigger t
    WHERE t.tgrelid OPERATOR(pg_catalog.=) 'noetl.transient'::pg_catalog.regclass
      AND t.tgname OPERATOR(pg_catalog.=) 'transient_changed_update';
    CREATE OR REPLACE TRIGGER transient_changed_update
        AFTER UPDATE ON noetl.transient
        FOR EACH ROW WHEN (noetl.capture_changes())
        EXECUTE FUNCTION noetl.transient_changed();
    IF state OPERATOR(pg_catalog.=) 'D' THEN
        ALTER TABLE noetl.transient DISABLE TRIGGER transient_changed_update;
    ELSIF state OPERATOR(pg_catalog.=) 'R' THEN
        ALTER TABLE noetl.transient ENABLE REPLICA TRIGGER transient_changed_update;
    ELSIF state OPERATOR(pg_catalog.=) 'A' THEN
        ALTER TABLE noetl.transient ENABLE ALWAYS TRIGGER transient_changed_update;
    END IF;
END
$$;
