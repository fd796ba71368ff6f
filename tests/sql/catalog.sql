-- The extension's relations are looked up once per backend (src/backend/catalog.rs) and
-- forgotten when PostgreSQL invalidates them: the next call of the same session sees a table or
-- schema renamed away exactly as a new session does.
\ir helpers.psql
SELECT noetl.render_vars(895, 's', '{}', '{"a": "{{ vars.a | default(0) + 1 }}"}') AS remembered;
SELECT noetl.render_vars(895, 's', '{}', '{"b": "{{ 1 }}"}', event_id => 'e1') AS with_an_event;

ALTER TABLE noetl.transient RENAME TO transient_away;
SELECT pg_temp.try($$SELECT noetl.render_vars(895, 's', '{}', '{"a": "{{ vars.a | default(0) + 1 }}"}')$$) AS this_session;
ALTER TABLE noetl.applied_events RENAME TO applied_away;
SELECT pg_temp.try($$SELECT noetl.render_vars(895, 's', '{}', '{"b": "{{ 1 }}"}', event_id => 'e1')$$) AS this_session;
\c
\ir helpers.psql
SELECT pg_temp.try($$SELECT noetl.render_vars(895, 's', '{}', '{"a": "{{ vars.a | default(0) + 1 }}"}')$$) AS new_session;
SELECT pg_temp.try($$SELECT noetl.render_vars(895, 's', '{}', '{"b": "{{ 1 }}"}', event_id => 'e1')$$) AS new_session;
ALTER TABLE noetl.transient_away RENAME TO transient;
ALTER TABLE noetl.applied_away RENAME TO applied_events;

-- The schema renamed away, then back.
SELECT noetl.get_var(895, 'a') AS before_rename;
ALTER SCHEMA noetl RENAME TO noetl_away;
SELECT pg_temp.try($$SELECT noetl_away.render_vars(895, 's', '{}', '{"a": "{{ vars.a | default(0) + 1 }}"}')$$) AS schema_away;
ALTER SCHEMA noetl_away RENAME TO noetl;
SELECT noetl.render_vars(895, 's', '{}', '{"a": "{{ vars.a | default(0) + 1 }}"}') AS schema_back;
SELECT noetl.render_vars(895, 's', '{}', '{"b": "{{ 1 }}"}', event_id => 'e1') AS event_recorded_before;
SELECT noetl.cleanup_execution(895);
