-- resume_execution (docs/reference.md, "Re-running"): predefined variables written again on
-- resume, every differing runtime value reported, and kept or overwritten as asked.
\ir helpers.psql
SELECT noetl.set_vars(890, '{"api_base": "https://a", "page_size": 100, "retries": 2}', 'user_defined', 'start') IS NOT NULL AS seeded;
SELECT noetl.render_vars(890, 'fetch', '{"next": 3}', '{"cursor": "{{ result.next }}"}') AS runtime;

-- keep => 'predefined' (the default): the differing runtime value is overwritten, with a warning.
SELECT noetl.resume_execution(890, '{"api_base": "https://a", "page_size": 50, "env": "prod", "big": 12345678901234567890123}') AS resumed;
SELECT var_name, var_value, var_type, source_step FROM noetl.transient WHERE execution_id = 890 ORDER BY var_name;

-- keep => 'runtime': the runtime value stays, and the name is not written.
SELECT noetl.set_vars(891, '{"page_size": 100, "retries": 2}') IS NOT NULL AS seeded;
SELECT noetl.resume_execution(891, '{"page_size": 50, "retries": 2, "env": "prod"}', keep => 'runtime') AS resumed;
SELECT var_name, var_value, source_step FROM noetl.transient WHERE execution_id = 891 ORDER BY var_name;

-- Equality is jsonb's: 1.0 is 1, key order does not matter. An expired value is no conflict.
SELECT noetl.set_vars(892, '{"n": 1.0, "o": {"a": 1, "b": 2}, "old": 1}') IS NOT NULL AS seeded;
UPDATE noetl.transient SET expires_at = now() - interval '1 second' WHERE execution_id = 892 AND var_name = 'old';
SELECT noetl.resume_execution(892, '{"n": 1, "o": {"b": 2, "a": 1}, "old": 2}') AS no_conflicts;
SELECT noetl.resume_execution(893, '{}') AS nothing_predefined;

-- Refused, writing nothing.
SELECT pg_temp.try($$SELECT noetl.resume_execution(894, '[1]')$$) AS not_an_object,
       pg_temp.try($$SELECT noetl.resume_execution(894, '{"a": 1}', keep => 'mine')$$) AS bad_keep,
       pg_temp.try($$SELECT noetl.resume_execution(894, NULL)$$) AS null_predefined,
       pg_temp.try($$SELECT noetl.resume_execution(894, '{"a": 1, "": 2}')$$) AS empty_name,
       pg_temp.try($$SELECT noetl.resume_execution(NULL, '{"a": 1}')$$) AS null_execution;
SELECT count(*) AS nothing_written FROM noetl.transient WHERE execution_id = 894;

-- History records the writes of a resume like any other.
SET noetl_vars.track_history = on;
SELECT noetl.set_var(895, 'x', '1') IS NOT NULL AS seeded;
SELECT noetl.resume_execution(895, '{"x": 2}') -> 'written' AS written;
SELECT var_name, new_value, operation FROM noetl.transient_history WHERE execution_id = 895 ORDER BY id;
RESET noetl_vars.track_history;
SELECT noetl.cleanup_execution(e) FROM unnest(ARRAY[890, 891, 892, 893, 895]) e;
