-- The CHECK constraints of the tables the extension writes (src/backend/check_constraints.rs):
-- its statements read each constraint's text once per backend, yet every write is checked
-- against the constraints the table has at that moment, each planned as PostgreSQL plans it.
\ir helpers.psql
SELECT noetl.set_vars(890, '{"a": 1}') IS NOT NULL AS seeded;

-- A constraint added in this session is enforced at the next write, on every write path.
ALTER TABLE noetl.transient ADD CONSTRAINT transient_test_names CHECK (var_name <> 'bad');
SELECT pg_temp.try($$SELECT noetl.set_var(890, 'bad', '1')$$) AS set_var;
SELECT pg_temp.try($$SELECT noetl.set_vars(890, '{"ok": 1, "bad": 2}')$$) AS set_vars;
SELECT pg_temp.try($$SELECT noetl.render_vars(890, 's', '{}', '{"bad": "{{ 1 }}"}')$$) AS render_vars;
SELECT pg_temp.try($$SELECT noetl.apply_set(890, 's', '{"bad": "{{ 1 }}"}')$$) AS apply_set;
SELECT pg_temp.try($$SELECT noetl.set_vars(890, '{"ok": 1}')$$) AS another_name;

-- Replaced by one of another text in the same session: the new one holds, the old one no more.
ALTER TABLE noetl.transient DROP CONSTRAINT transient_test_names;
ALTER TABLE noetl.transient ADD CONSTRAINT transient_test_names CHECK (var_name <> 'worse') NOT VALID;
SELECT pg_temp.try($$SELECT noetl.set_var(890, 'bad', '2')$$) AS bad_now;
SELECT pg_temp.try($$SELECT noetl.set_var(890, 'worse', '1')$$) AS worse_now;

-- A constraint calling an SQL function, which the planner inlines: replacing the function
-- changes what the next write checks (only the text's node tree is kept, never its plan).
CREATE FUNCTION public.noetl_test_allowed(name text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$ SELECT name <> 'x1' $$;
ALTER TABLE noetl.transient ADD CONSTRAINT transient_test_allowed CHECK (public.noetl_test_allowed(var_name));
SELECT pg_temp.try($$SELECT noetl.set_var(890, 'x1', '1')$$) AS x1;
CREATE OR REPLACE FUNCTION public.noetl_test_allowed(name text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$ SELECT name <> 'x2' $$;
SELECT pg_temp.try($$SELECT noetl.set_var(890, 'x1', '2')$$) AS x1_after_replace;
SELECT pg_temp.try($$SELECT noetl.render_vars(890, 's', '{}', '{"x2": "{{ 2 }}"}')$$) AS x2_after_replace;

-- What the refused writes left: nothing.
SELECT pg_catalog.string_agg(var_name || '=' || var_value::text, ', ' ORDER BY var_name) AS stored
FROM noetl.transient WHERE execution_id = 890;

ALTER TABLE noetl.transient DROP CONSTRAINT transient_test_names, DROP CONSTRAINT transient_test_allowed;
DROP FUNCTION public.noetl_test_allowed(text);
SELECT noetl.cleanup_execution(890);
