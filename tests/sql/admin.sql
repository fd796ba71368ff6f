-- Operating: the executions view, purging stale executions, redaction in the API bodies.
\ir helpers.psql

SELECT noetl.set_vars(800, '{"a": 1, "b": "xx", "c": [1, 2, 3]}');
SELECT noetl.set_var(801, 'only', 'true');
SELECT noetl.get_var(800, 'a'), noetl.get_var(800, 'a'), noetl.get_var(800, 'b');
SELECT execution_id, variables, value_bytes, reads, most_read,
       first_write <= last_write AS ordered, last_read IS NOT NULL AS was_read
FROM noetl.executions WHERE execution_id IN (800, 801) ORDER BY 1;

-- Purge: 800 untouched for ten days goes, 801 stays.
UPDATE noetl.transient SET created_at = now() - interval '10 days', accessed_at = now() - interval '10 days'
WHERE execution_id = 800;
SELECT execution_id, variables, last_activity < now() - interval '9 days' AS old
FROM noetl.purge_stale('7 days');
SELECT execution_id FROM noetl.executions WHERE execution_id IN (800, 801) ORDER BY 1;
SELECT count(*) AS purged_again FROM noetl.purge_stale('7 days') WHERE execution_id IN (800, 801);
-- At most max_executions per call, oldest first.
SELECT noetl.set_var(802, 'x', '1'), noetl.set_var(803, 'x', '1');
UPDATE noetl.transient SET created_at = now() - interval '3 days', accessed_at = now() - interval '3 days' WHERE execution_id = 802;
UPDATE noetl.transient SET created_at = now() - interval '2 days', accessed_at = now() - interval '2 days' WHERE execution_id = 803;
SELECT execution_id FROM noetl.purge_stale('1 day', max_executions => 1);
SELECT execution_id FROM noetl.purge_stale('1 day', max_executions => 1);
SELECT pg_temp.try($$SELECT * FROM noetl.purge_stale(NULL)$$) AS null_interval,
       pg_temp.try($$SELECT * FROM noetl.purge_stale('-1 day')$$) AS negative,
       pg_temp.try($$SELECT * FROM noetl.purge_stale('1 day', 0)$$) AS zero_batch;
-- purge_execution: one execution, if stale; a fresh one stays; bad arguments are refused.
SELECT noetl.set_vars(805, '{"a": 1, "b": 2}') IS NOT NULL AS seeded;
SELECT * FROM noetl.purge_execution(805, '1 day');
UPDATE noetl.transient SET created_at = now() - interval '2 days', accessed_at = now() - interval '2 days'
WHERE execution_id = 805;
SELECT variables, last_activity < now() - interval '1 day' AS old FROM noetl.purge_execution(805, '1 day');
SELECT count(*) AS left_of_805 FROM noetl.transient WHERE execution_id = 805;
SELECT pg_temp.try($$SELECT * FROM noetl.purge_execution(NULL, '1 day')$$) AS null_execution,
       pg_temp.try($$SELECT * FROM noetl.purge_execution(805, NULL)$$) AS null_interval,
       pg_temp.try($$SELECT * FROM noetl.purge_execution(805, '-1 day')$$) AS negative;
SELECT noetl.cleanup_execution(801);

-- Redaction: the API bodies hide credentials; the stored data and the value functions do not.
SELECT noetl.set_vars(804, '{"api_token": "abc123", "user": "ada",
    "response": {"headers": {"Authorization": "Bearer xyz", "Accept": "json"}, "rows": 3},
    "id_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "basic": "Basic dXNlcjpwYXNz"}');
SELECT e.key, e.v->'value' AS shown FROM jsonb_each(noetl.vars_list(804)->'variables') AS e(key, v) ORDER BY e.key;
SELECT noetl.vars_get(804, 'api_token')->'value' AS vars_get_value;
SELECT noetl.get_var(804, 'api_token') AS get_var, noetl.get_all_vars(804)->'response'->'headers' AS get_all_vars;
SELECT noetl.render_vars(804, 's', '{}', '{"auth": "Bearer {{ vars.api_token }}"}') AS templates_see_values;
SELECT var_value AS stored FROM noetl.transient WHERE execution_id = 804 AND var_name = 'auth';
SET noetl_vars.redact_secrets = off;
SELECT noetl.vars_get(804, 'api_token')->'value' AS unredacted;
RESET noetl_vars.redact_secrets;
SELECT noetl.cleanup_execution(804);

-- The service tokens, private keys and URLs NoETL's rules recognise, at any depth; prose that
-- only mentions a prefix is shown.
SELECT noetl.set_vars(805, pg_catalog.jsonb_build_object(
    'openai', 'sk-proj-' || repeat('a1B2c3D4e5', 3),
    'anthropic', 'sk-ant-api03-' || repeat('Zx9_-', 8),
    'google', pg_catalog.jsonb_build_object('key', 'AIza' || repeat('SyA1b2C3d4E5f6G7', 2) || 'h8I',
                                            'oauth', 'ya29.' || repeat('a0AfH6SM', 4)),
    'github', pg_catalog.jsonb_build_array('ghp_' || repeat('A1b2C3d4E5f6', 3),
                                           'github_pat_' || repeat('11ABCDEFG0', 3), 'plain'),
    'slack', 'xoxb-1234567890-abcdefghij',
    'pem', E'-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----',
    'callback', 'https://api.example.com/v1?page=2&api_key=abc123',
    'deep', pg_catalog.jsonb_build_object('a', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('b', 'see xoxp-2-1234567890 here'))),
    'prose', 'keys start with sk- and GitHub tokens with ghp_',
    'page', 'https://api.example.com/v1?page=2'));
SELECT e.key, e.v->'value' AS shown FROM jsonb_each(noetl.vars_list(805)->'variables') AS e(key, v) ORDER BY e.key;
SELECT noetl.vars_get(805, 'github')->'value' AS vars_get_array;
SELECT noetl.get_var(805, 'slack') AS get_var_sees_the_value;
SELECT noetl.cleanup_execution(805);
