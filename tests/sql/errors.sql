-- Bad input: an ERROR with a specific SQLSTATE, and the table exactly as it was.
\ir helpers.psql

SELECT noetl.set_vars(200, '{"keep": 1, "other": {"a": [1]}}');
CREATE TEMP TABLE snapshot AS SELECT * FROM noetl.transient;

SELECT label, pg_temp.try(sql) AS outcome FROM (VALUES
    ('set_var: NULL execution_id',   $$SELECT noetl.set_var(NULL, 'x', '1')$$),
    ('set_var: NULL var_name',       $$SELECT noetl.set_var(200, NULL, '1')$$),
    ('set_var: empty var_name',      $$SELECT noetl.set_var(200, '', '1')$$),
    ('set_var: 1025-byte var_name',  $$SELECT noetl.set_var(200, repeat('n', 1025), '1')$$),
    ('set_var: NULL var_value',      $$SELECT noetl.set_var(200, 'x', NULL)$$),
    ('set_var: NULL var_type',       $$SELECT noetl.set_var(200, 'x', '1', NULL)$$),
    ('set_var: invalid var_type',    $$SELECT noetl.set_var(200, 'x', '1', 'secret')$$),
    ('set_var: var_type wrong case', $$SELECT noetl.set_var(200, 'x', '1', 'USER_DEFINED')$$),
    ('get_var: NULL execution_id',   $$SELECT noetl.get_var(NULL, 'keep')$$),
    ('get_var: NULL var_name',       $$SELECT noetl.get_var(200, NULL)$$),
    ('get_var: empty var_name',      $$SELECT noetl.get_var(200, '')$$),
    ('get_all_vars: NULL',           $$SELECT noetl.get_all_vars(NULL)$$),
    ('set_vars: NULL execution_id',  $$SELECT noetl.set_vars(NULL, '{"x": 1}')$$),
    ('set_vars: NULL variables',     $$SELECT noetl.set_vars(200, NULL)$$),
    ('set_vars: empty object',       $$SELECT noetl.set_vars(200, '{}')$$),
    ('set_vars: array',              $$SELECT noetl.set_vars(200, '[{"x": 1}]')$$),
    ('set_vars: number',             $$SELECT noetl.set_vars(200, '42')$$),
    ('set_vars: string',             $$SELECT noetl.set_vars(200, '"x"')$$),
    ('set_vars: JSON null',          $$SELECT noetl.set_vars(200, 'null')$$),
    ('set_vars: invalid var_type',   $$SELECT noetl.set_vars(200, '{"x": 1}', 'nope')$$),
    ('set_vars: empty key',          $$SELECT noetl.set_vars(200, '{"x": 1, "": 2}')$$),
    ('delete_var: NULL var_name',    $$SELECT noetl.delete_var(200, NULL)$$),
    ('cleanup_execution: NULL',      $$SELECT noetl.cleanup_execution(NULL)$$),
    ('vars_list: NULL',              $$SELECT noetl.vars_list(NULL)$$),
    ('vars_get: NULL var_name',      $$SELECT noetl.vars_get(200, NULL)$$),
    ('vars_delete: empty var_name',  $$SELECT noetl.vars_delete(200, '')$$),
    ('vars_cleanup: NULL',           $$SELECT noetl.vars_cleanup(NULL)$$)
) AS t(label, sql);

-- Values over noetl_vars.max_value_bytes, alone or in a batch.
SET noetl_vars.max_value_bytes = 1024;
SELECT pg_temp.try($$SELECT noetl.set_var(200, 'big', to_jsonb(repeat('x', 2000)))$$) AS one;
SELECT pg_temp.try($$SELECT noetl.set_vars(200, jsonb_build_object('small', 1, 'big', repeat('x', 2000)))$$) AS batch;
SELECT pg_temp.try($$SELECT noetl.set_var(200, 'keep', to_jsonb(repeat('x', 2000)))$$) AS overwrite;
RESET noetl_vars.max_value_bytes;
SHOW noetl_vars.max_value_bytes;
-- (PostgreSQL 17 and later also print the unit of the range: "(1024 B .. 268435455 B)")
SELECT regexp_replace(pg_temp.try($$SET noetl_vars.max_value_bytes = 10$$), '\((\d+) B \.\. (\d+) B\)', '(\1 .. \2)') AS below_minimum;
SELECT pg_temp.try($$SET noetl_vars.no_such_setting = 1$$) AS misspelt_setting;

-- Nothing above changed the table.
SELECT count(*) = (SELECT count(*) FROM snapshot) AND NOT EXISTS (
    SELECT * FROM noetl.transient EXCEPT SELECT * FROM snapshot
) AS unchanged FROM noetl.transient;
SELECT noetl.cleanup_execution(200);

-- A batch larger than noetl_vars.max_value_bytes whose every value is within it is stored
-- (each value is measured, not the batch).
SET noetl_vars.max_value_bytes = 1024;
SELECT noetl.set_vars(201, jsonb_build_object('a', repeat('x', 700), 'b', repeat('y', 700))) ->> 'variables_set' AS stored;
RESET noetl_vars.max_value_bytes;
SELECT noetl.cleanup_execution(201) AS removed;
