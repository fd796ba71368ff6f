-- Response bodies (docs/reference.md, Response bodies), field by field: names, JSON types, exact ids, ISO timestamps.
\ir helpers.psql

-- 2^53 + 1: a JSON number must carry it exactly.
SELECT noetl.set_var(9007199254740993, 'user_id', '12345', 'step_result', 'fetch');
SELECT noetl.set_var(9007199254740993, 'plain', '"x"');

-- GET /api/vars/{id}
SELECT body->>'execution_id' AS execution_id, jsonb_typeof(body->'execution_id') AS id_type,
       body->'count' AS count, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(body) k) AS keys
FROM (SELECT noetl.vars_list(9007199254740993) AS body) b;
SELECT key AS name, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(v) k) AS fields,
       v->'value' AS value, v->'type' AS type, v->'source_step' AS source_step,
       v->'access_count' AS access_count,
       v->>'created_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d:\d\d$' AS created_iso,
       v->>'accessed_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d:\d\d$' AS accessed_iso,
       (v->>'created_at')::timestamptz = t.created_at AS created_matches
FROM jsonb_each(noetl.vars_list(9007199254740993)->'variables') AS e(key, v)
JOIN noetl.transient t ON t.execution_id = 9007199254740993 AND t.var_name = e.key
ORDER BY key;
SELECT noetl.vars_list(424242) AS unknown_execution;

-- GET /api/vars/{id}/{name}: a tracked read reporting the count after the increment.
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(body) k) AS fields,
       body->>'execution_id' AS execution_id, body->'var_name' AS var_name, body->'value' AS value,
       body->'type' AS type, body->'source_step' AS source_step, body->'access_count' AS access_count
FROM (SELECT noetl.vars_get(9007199254740993, 'user_id') AS body) b;
SELECT noetl.vars_get(9007199254740993, 'user_id')->'access_count' AS second_read;
SELECT noetl.vars_list(9007199254740993)->'variables'->'user_id'->'access_count' AS list_does_not_count;
SELECT noetl.vars_get(9007199254740993, 'nope') IS NULL AS absent_is_sql_null;

-- POST /api/vars/{id}
SELECT noetl.set_vars(9007199254740993, '{"c": 3, "a": 1, "b": 2}');
SELECT jsonb_typeof(noetl.set_vars(9007199254740993, '{"z": 0}')->'var_names') AS var_names_type;

-- DELETE /api/vars/{id}/{name} and DELETE /api/vars/{id}
SELECT noetl.vars_delete(9007199254740993, 'a') AS first, noetl.vars_delete(9007199254740993, 'a') AS second;
SELECT noetl.vars_cleanup(9007199254740993) AS first;
SELECT noetl.vars_cleanup(9007199254740993) AS second;
