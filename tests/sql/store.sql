-- The store functions (docs/reference.md, Store): write rules, tracked reads, isolation between executions.
\ir helpers.psql

-- New rows: access_count 0, created_at = accessed_at.
SELECT noetl.set_var(100, 'user_id', '12345');
SELECT noetl.set_var(100, 'config', '{"retries": 3, "tags": ["a", "b"]}', 'computed', 'setup');
SELECT noetl.set_var(100, 'nothing', 'null');
SELECT noetl.set_var(execution_id => 100, var_name => 'named', var_value => '[1, 2]', source_step => 'args');
SELECT var_name, var_type, source_step, var_value, access_count, created_at = accessed_at AS untouched
FROM noetl.transient WHERE execution_id = 100 ORDER BY var_name;

-- Tracked reads count, untracked ones do not; a JSON null is a value, absence is SQL NULL.
SELECT noetl.get_var(100, 'user_id');
SELECT noetl.get_var(100, 'user_id');
SELECT noetl.get_var(100, 'missing') IS NULL AS absent_is_sql_null;
SELECT noetl.get_var(100, 'nothing') AS json_null, noetl.get_var(100, 'nothing') IS NULL AS is_sql_null;
SELECT noetl.get_all_vars(100);
SELECT noetl.get_all_vars(999) AS no_such_execution;
SELECT var_name, access_count FROM noetl.transient WHERE execution_id = 100 ORDER BY var_name;

-- An overwrite replaces value, type and source step, keeps created_at and access_count and
-- moves accessed_at.
UPDATE noetl.transient SET created_at = created_at - interval '1 day', accessed_at = accessed_at - interval '1 day'
WHERE execution_id = 100;
SELECT noetl.set_var(100, 'user_id', '"u-1"', 'step_result', 'fetch');
SELECT var_value, var_type, source_step, access_count,
       created_at < now() - interval '23 hours' AS created_kept,
       accessed_at > now() - interval '1 minute' AS accessed_moved
FROM noetl.transient WHERE execution_id = 100 AND var_name = 'user_id';

-- set_vars writes every member in one statement and answers like POST /api/vars/{id}.
SELECT noetl.set_vars(100, '{"a": 1, "b": [true, null], "user_id": 7}', 'user_defined', 'api');
SELECT var_name, var_type, source_step, var_value, access_count
FROM noetl.transient WHERE execution_id = 100 ORDER BY var_name;

-- Deletes.
SELECT noetl.delete_var(100, 'a') AS first, noetl.delete_var(100, 'a') AS second;
SELECT noetl.cleanup_execution(100) AS first, noetl.cleanup_execution(100) AS second;

-- Executions never see each other's variables.
SELECT noetl.set_var(101, 'x', '1'), noetl.set_var(102, 'x', '2');
SELECT noetl.get_all_vars(101) AS e101, noetl.get_all_vars(102) AS e102;
SELECT noetl.cleanup_execution(101);
SELECT noetl.get_all_vars(102) AS e102_after_cleanup_of_101;

-- Exact numbers, any size, and every JSON type, stored and returned as given.
SELECT noetl.set_vars(103, '{"big": 12345678901234567890123, "frac": 0.1000000000000000000001, "huge": 1e400, "neg": -0, "s": "007", "t": true, "n": null, "o": {}, "a": []}');
SELECT var_name, jsonb_typeof(var_value) AS type, left(var_value::text, 40) AS value
FROM noetl.transient WHERE execution_id = 103 ORDER BY var_name;
SELECT noetl.get_var(103, 'huge') = '1e400'::jsonb AS huge_exact;
SELECT noetl.cleanup_execution(103);
