-- Redelivered events (docs/reference.md, "Re-running: redelivered events"): with an event_id a
-- block applies at most once per (execution, id); later calls return the first result.
\ir helpers.psql
SELECT noetl.set_var(900, 'n', '0') IS NOT NULL AS seeded;
-- Delivered three times, applied once; each delivery gets the first result.
SELECT noetl.render_vars(900, 'fetch', '{}', '{"n": "{{ vars.n + 1 }}"}', event_id => 'evt-1') AS first,
       noetl.render_vars(900, 'fetch', '{}', '{"n": "{{ vars.n + 1 }}"}', event_id => 'evt-1') AS second;
SELECT noetl.render_vars(900, 'fetch', '{}', '{"n": "{{ vars.n + 1 }}"}', event_id => 'evt-1') AS third;
SELECT noetl.get_var(900, 'n') AS n;
-- Another id applies.
SELECT noetl.render_vars(900, 'fetch', '{}', '{"n": "{{ vars.n + 1 }}"}', event_id => 'evt-2') AS other_event;
-- apply_set and render_iteration too; an iteration's counters count once.
SELECT noetl.apply_set(900, 'fetch', '{"ctx.n": "{{ ctx.n + 10 }}", "step.seen": 1}', event_id => 'evt-3') AS set_first;
SELECT noetl.apply_set(900, 'fetch', '{"ctx.n": "{{ ctx.n + 10 }}", "step.seen": 1}', event_id => 'evt-3') AS set_again;
SELECT noetl.render_iteration(900, 'loop', '"a"', 0, 2, NULL, '{}', event_id => 'evt-4') ->> 'loop_count' AS count_first;
SELECT noetl.render_iteration(900, 'loop', '"a"', 0, 2, NULL, '{}', event_id => 'evt-4') ->> 'loop_count' AS count_again;
SELECT noetl.get_var(900, 'n') AS n, noetl.get_var(900, 'loop_count') AS loop_count;
-- The same id with another call is refused, naming the id, writing nothing.
SELECT pg_temp.try($$SELECT noetl.apply_set(900, 'fetch', '{"ctx.n": 0}', event_id => 'evt-1')$$) AS other_function,
       pg_temp.try($$SELECT noetl.render_vars(900, 'other', '{}', '{"n": "{{ vars.n + 1 }}"}', event_id => 'evt-1')$$) AS other_step;
SELECT pg_temp.try($$SELECT noetl.render_vars(900, 'fetch', '{}', '{"n": 0}', event_id => 'evt-1')$$) AS other_block,
       pg_temp.try($$SELECT noetl.render_vars(900, 'fetch', '{}', '{"n": "{{ vars.n + 1 }}"}', phase => 'before', event_id => 'evt-1')$$) AS other_phase;
SELECT pg_temp.try($$SELECT noetl.render_iteration(900, 'loop', '"b"', 1, 2, NULL, '{}', event_id => 'evt-4')$$) AS other_iteration;
SELECT pg_temp.try($$SELECT noetl.render_vars(900, 'fetch', '{}', '{}', event_id => '')$$) AS empty_id,
       pg_temp.try(pg_catalog.format($$SELECT noetl.render_vars(900, 'fetch', '{}', '{}', event_id => %L)$$, repeat('x', 1025))) AS long_id;
SELECT noetl.get_var(900, 'n') AS n_unchanged;
-- Ids belong to their execution: another execution applies the same id.
SELECT noetl.render_vars(901, 'fetch', '{}', '{"n": 1}', event_id => 'evt-1') AS other_execution;
-- A rolled-back call leaves no trace: the redelivery applies.
BEGIN;
SELECT noetl.render_vars(900, 'fetch', '{}', '{"r": 1}', event_id => 'evt-5') AS rolled_back;
ROLLBACK;
SELECT noetl.render_vars(900, 'fetch', '{}', '{"r": 2}', event_id => 'evt-5') AS redelivered;
-- An empty block is an event too.
SELECT noetl.render_vars(900, 'fetch', '{}', '{}', event_id => 'evt-6') AS empty_block,
       noetl.render_vars(900, 'fetch', '{}', '{}', event_id => 'evt-6') AS empty_again;
-- cleanup_execution forgets the ids: the same id applies again.
SELECT count(*) AS recorded FROM noetl.applied_events WHERE execution_id = 900;
SELECT noetl.cleanup_execution(900) AS cleaned;
SELECT count(*) AS recorded_after FROM noetl.applied_events WHERE execution_id = 900;
SELECT noetl.render_vars(900, 'fetch', '{}', '{"n": 5}', event_id => 'evt-1') AS applies_again;
SELECT noetl.cleanup_execution(e) FROM unnest(ARRAY[900, 901]) e;

-- The lifetime purge forgets the ids of an execution it empties.
SELECT noetl.render_vars(903, 's', '{}', '{"t": 1}', ttl => interval '1 hour', event_id => 'evt-9') AS with_lifetime;
UPDATE noetl.transient SET expires_at = now() - interval '1 second' WHERE execution_id = 903;
SELECT noetl.purge_expired() >= 1 AS purged;
SELECT count(*) AS ids_left FROM noetl.applied_events WHERE execution_id = 903;

-- A role granted only what it needed before 0.6.0 keeps cleaning up; an event id needs the
-- grants on noetl.applied_events.
CREATE ROLE noetl_vars_old_app NOLOGIN;
GRANT USAGE ON SCHEMA noetl TO noetl_vars_old_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON noetl.transient TO noetl_vars_old_app;
GRANT EXECUTE ON FUNCTION noetl.set_var(bigint, text, jsonb, text, text, interval),
    noetl.cleanup_execution(bigint),
    noetl.render_vars(bigint, text, jsonb, jsonb, jsonb, text, interval, text) TO noetl_vars_old_app;
SET ROLE noetl_vars_old_app;
SELECT noetl.set_var(902, 'x', '1') IS NOT NULL AS wrote, noetl.cleanup_execution(902) AS cleaned;
SELECT pg_temp.try($$SELECT noetl.render_vars(902, 's', '{}', '{"x": 1}', event_id => 'e')$$) AS without_grants;
RESET ROLE;
DROP OWNED BY noetl_vars_old_app;
DROP ROLE noetl_vars_old_app;
