-- Primary-key probes (src/storage/direct/probe.rs) read a variable or an event without a statement,
-- and must see exactly what the statement would: never a row a policy hides, never a column
-- the caller may not read, and the same rows under every grant.
\ir helpers.psql

SELECT noetl.set_vars(620, '{"open": 1, "hidden": 2}');

CREATE ROLE noetl_vars_prober NOLOGIN;
GRANT USAGE ON SCHEMA noetl TO noetl_vars_prober;
GRANT EXECUTE ON FUNCTION
    noetl.render_vars(bigint, text, jsonb, jsonb, jsonb, text, interval, text),
    noetl.apply_set(bigint, text, jsonb, jsonb, integer, text, interval, text)
TO noetl_vars_prober;

-- Column grants only, on every column: the probe steps aside (it needs SELECT on the whole
-- table) and the statements read as before.
SELECT pg_catalog.format('GRANT SELECT (%s), INSERT, UPDATE ON noetl.transient TO noetl_vars_prober',
                         pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum))
FROM pg_catalog.pg_attribute
WHERE attrelid = 'noetl.transient'::regclass AND attnum > 0 AND NOT attisdropped \gexec
SET ROLE noetl_vars_prober;
SELECT noetl.render_vars(620, 's', '{}', '{"seen": "{{ vars.open }}"}') AS column_grants_read;
SELECT noetl.render_vars(620, 's', '{}', '{"open": "{{ vars.open + 1 }}"}') AS column_grants_read_and_write;
RESET ROLE;

-- Without SELECT on var_value: permission denied, as for the statement, never the value (a
-- set: block writing only ctx. reads and writes nothing else).
REVOKE SELECT (var_value) ON noetl.transient FROM noetl_vars_prober;
SET ROLE noetl_vars_prober;
SELECT pg_temp.try($$SELECT noetl.apply_set(620, 's', '{"ctx.seen": "{{ vars.hidden }}"}')$$) AS no_value_column;
SELECT pg_temp.try($$SELECT noetl.render_vars(620, 's', '{}', '{"hidden": "{{ vars.hidden + 1 }}"}')$$) AS no_value_column_locked;
RESET ROLE;

-- Row-level security: a policy hides a row from the role, and every read of the block, plain
-- or for a write, finds it missing (the probe steps aside for any table with RLS enabled).
GRANT SELECT, INSERT, UPDATE ON noetl.transient TO noetl_vars_prober;
BEGIN;
ALTER TABLE noetl.transient ENABLE ROW LEVEL SECURITY;
CREATE POLICY prober_sees_no_hidden ON noetl.transient TO noetl_vars_prober
    USING (var_name <> 'hidden');
SET LOCAL ROLE noetl_vars_prober;
SELECT noetl.render_vars(620, 's', '{}', '{"seen": "{{ vars.hidden | default(''none'') }}"}') AS policy_hides_plain_read;
SELECT noetl.apply_set(620, 's', '{"ctx.seen": "{{ vars.hidden | default(''none'') }}"}') AS policy_hides_set_read;
SELECT noetl.render_vars(620, 's', '{}', '{"seen": "{{ vars.open }}"}') AS policy_shows_open;
ROLLBACK;

-- Events: a role without SELECT on noetl.applied_events cannot use event ids (the look-up is
-- refused as the statement refuses it), one with it can.
GRANT EXECUTE ON FUNCTION noetl.cleanup_execution(bigint) TO noetl_vars_prober;
SET ROLE noetl_vars_prober;
SELECT pg_temp.try($$SELECT noetl.render_vars(620, 's', '{}', '{"e": 1}', event_id => 'ev-1')$$) AS event_without_grant;
RESET ROLE;
GRANT SELECT, INSERT ON noetl.applied_events TO noetl_vars_prober;
SET ROLE noetl_vars_prober;
SELECT noetl.render_vars(620, 's', '{}', '{"e": "{{ 1 + 1 }}"}', event_id => 'ev-1') AS event_first;
SELECT noetl.render_vars(620, 's', '{}', '{"e": "{{ 1 + 1 }}"}', event_id => 'ev-1') AS event_again;
SELECT pg_temp.try($$SELECT noetl.render_vars(620, 's2', '{}', '{"e": 1}', event_id => 'ev-1')$$) AS event_other_step;
RESET ROLE;

-- The record of an event is stored without a statement only on the table as installed: an
-- operator's trigger still fires and a column added with a default gets it.
BEGIN;
CREATE TABLE pg_temp.recorded (event_id text);
CREATE FUNCTION pg_temp.note_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.recorded VALUES (NEW.event_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER note_event AFTER INSERT ON noetl.applied_events
    FOR EACH ROW EXECUTE FUNCTION pg_temp.note_event();
SELECT noetl.render_vars(620, 's', '{}', '{"t": 1}', event_id => 'ev-trigger') AS with_trigger;
SELECT event_id AS the_trigger_saw FROM pg_temp.recorded;
ROLLBACK;
BEGIN;
ALTER TABLE noetl.applied_events ADD COLUMN note text NOT NULL DEFAULT 'defaulted';
SELECT noetl.render_vars(620, 's', '{}', '{"t": 1}', event_id => 'ev-column') AS with_extra_column;
SELECT note FROM noetl.applied_events WHERE execution_id = 620 AND event_id = 'ev-column';
ROLLBACK;

-- An expired variable is missing to the probe too, for a plain read and a read for a write.
SELECT noetl.set_var(620, 'old', '5', ttl => '1 hour');
UPDATE noetl.transient SET expires_at = now() - interval '1 second' WHERE execution_id = 620 AND var_name = 'old';
SELECT noetl.render_vars(620, 's', '{}', '{"seen": "{{ vars.old | default(''gone'') }}"}') AS expired_plain_read;
SELECT noetl.render_vars(620, 's', '{}', '{"old": "{{ vars.old | default(0) + 1 }}"}') AS expired_locked_read;

SELECT noetl.cleanup_execution(620);
REVOKE ALL ON SCHEMA noetl FROM noetl_vars_prober;
REVOKE ALL ON noetl.transient, noetl.applied_events FROM noetl_vars_prober;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA noetl FROM noetl_vars_prober;
DROP ROLE noetl_vars_prober;
