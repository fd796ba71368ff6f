-- Hostile input across every function: each case ends in an ERROR with a documented SQLSTATE
-- or a documented non-error answer; the table is unchanged by the failures, and the backend
-- survives all of it (scripts/test.sh checks the server log for crashes).
\ir helpers.psql

-- Messages cut to keep the tables readable.
CREATE FUNCTION pg_temp.try_short(sql text) RETURNS text LANGUAGE sql AS $$
    SELECT left(pg_temp.try(sql), 116)
$$;

SELECT noetl.set_vars(500, '{"keep": 1, "deep": {"a": [1, {"b": 2}]}}');
CREATE TEMP TABLE snapshot AS SELECT * FROM noetl.transient;

-- Failures: every one must leave the table as it was.
SELECT n, label, pg_temp.try_short(sql) AS outcome FROM (VALUES
 (1,  'set_var: 10 kB name',                 $$SELECT noetl.set_var(500, repeat('x', 10240), '1')$$),
 (2,  'set_var: empty name',                 $$SELECT noetl.set_var(500, '', '1')$$),
 (3,  'set_var: NULL every argument',        $$SELECT noetl.set_var(NULL, NULL, NULL, NULL, NULL)$$),
 (4,  'set_var: var_type with a space',      $$SELECT noetl.set_var(500, 'x', '1', ' user_defined')$$),
 (5,  'set_var: var_type empty',             $$SELECT noetl.set_var(500, 'x', '1', '')$$),
 (6,  'set_var: \u0000 in a value',          $$SELECT noetl.set_var(500, 'x', '"a\u0000b"')$$),
 (7,  'set_var: invalid JSON escape',        $$SELECT noetl.set_var(500, 'x', '"\ud800"')$$),
 (8,  'set_var: value over the limit',       $$SET LOCAL noetl_vars.max_value_bytes = 1024; SELECT noetl.set_var(500, 'x', to_jsonb(repeat('x', 4096)))$$),
 (9,  'set_var: 1M-element array over limit',$$SET LOCAL noetl_vars.max_value_bytes = 1048576; SELECT noetl.set_var(500, 'x', (SELECT jsonb_agg(g) FROM generate_series(1, 1000000) g))$$),
 (10, 'get_var: 10 kB name',                 $$SELECT noetl.get_var(500, repeat('x', 10240))$$),
 (11, 'get_var: NULL name',                  $$SELECT noetl.get_var(500, NULL)$$),
 (12, 'get_all_vars: NULL',                  $$SELECT noetl.get_all_vars(NULL)$$),
 (13, 'set_vars: array',                     $$SELECT noetl.set_vars(500, '[1, 2]')$$),
 (14, 'set_vars: string',                    $$SELECT noetl.set_vars(500, '"x"')$$),
 (15, 'set_vars: empty object',              $$SELECT noetl.set_vars(500, '{}')$$),
 (16, 'set_vars: empty key among good ones', $$SELECT noetl.set_vars(500, '{"a": 1, "": 2, "b": 3}')$$),
 (17, 'set_vars: 10 kB key',                 $$SELECT noetl.set_vars(500, jsonb_build_object(repeat('k', 10240), 1))$$),
 (18, 'set_vars: one value over the limit',  $$SET LOCAL noetl_vars.max_value_bytes = 1024; SELECT noetl.set_vars(500, jsonb_build_object('a', 1, 'b', repeat('x', 4096)))$$),
 (19, 'set_vars: invalid var_type',          $$SELECT noetl.set_vars(500, '{"a": 1}', 'root')$$),
 (20, 'delete_var: empty name',              $$SELECT noetl.delete_var(500, '')$$),
 (21, 'cleanup_execution: NULL',             $$SELECT noetl.cleanup_execution(NULL)$$),
 (22, 'vars_get: 10 kB name',                $$SELECT noetl.vars_get(500, repeat('x', 10240))$$),
 (23, 'vars_delete: NULL id',                $$SELECT noetl.vars_delete(NULL, 'keep')$$),
 (24, 'vars_list: NULL',                     $$SELECT noetl.vars_list(NULL)$$),
 (25, 'vars_cleanup: NULL',                  $$SELECT noetl.vars_cleanup(NULL)$$),
 (26, 'render: config is an array',          $$SELECT noetl.render_vars(500, 's', '{}', '["{{ 1 }}"]')$$),
 (27, 'render: config is a string',          $$SELECT noetl.render_vars(500, 's', '{}', '"{{ 1 }}"')$$),
 (28, 'render: config is a number',          $$SELECT noetl.render_vars(500, 's', '{}', '42')$$),
 (29, 'render: phase upper case',            $$SELECT noetl.render_vars(500, 's', '{}', '{"x": 1}', '{}', 'AFTER')$$),
 (30, 'render: phase empty',                 $$SELECT noetl.render_vars(500, 's', '{}', '{"x": 1}', '{}', '')$$),
 (31, 'render: NULL step',                   $$SELECT noetl.render_vars(500, NULL, '{}', '{"x": 1}')$$),
 (32, 'render: 10 kB step',                  $$SELECT noetl.render_vars(500, repeat('s', 10240), '{}', '{"x": 1}')$$),
 (33, 'render: syntax error, open tag',      $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ a"}')$$),
 (34, 'render: syntax error, unclosed if',   $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{% if 1 %}y"}')$$),
 (35, 'render: syntax error, bad operator',  $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ 1 +* 2 }}"}')$$),
 (36, 'render: endless nested loops',        $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}"}')$$),
 (37, 'render: string memory bomb',          $$SELECT noetl.render_vars(500, 's', '{}', $j${"x": "{{ 'a' * 10**12 }}"}$j$)$$),
 (38, 'render: list memory bomb',            $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ [0] * 10**12 }}"}')$$),
 (39, 'render: doubling memory bomb',        $$SELECT noetl.render_vars(500, 's', '{}', $j${"x": "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}"}$j$)$$),
 (40, 'render: huge range',                  $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ range(10**12) | list }}"}')$$),
 (41, 'render: endless recursion',           $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"}')$$),
 (42, 'render: 10,000 nested parentheses',   $$SELECT noetl.render_vars(500, 's', '{}', jsonb_build_object('x', '{{ ' || repeat('(', 10000) || '1' || repeat(')', 10000) || ' }}'))$$),
 (43, 'render: 10,000-deep config',          $$SELECT noetl.render_vars(500, 's', '{}', ('{"x": ' || repeat('[', 10000) || '"{{ 1 }}"' || repeat(']', 10000) || '}')::jsonb)$$),
 (44, 'render: tojson of a 10,000-deep result', $$SELECT noetl.render_vars(500, 's', (repeat('[', 10000) || repeat(']', 10000))::jsonb, '{"x": "{{ this | tojson }}"}')$$),
 (45, 'render: two-variable cycle',          $$SELECT noetl.render_vars(500, 's', '{}', '{"a": "{{ vars.b }}", "b": "{{ vars.a }}"}')$$),
 (46, 'render: three-variable cycle',        $$SELECT noetl.render_vars(500, 's', '{}', '{"a": "{{ vars.b }}", "b": "{{ c }}", "c": "{{ vars.a }}"}')$$),
 (47, 'render: template makes U+0000',       $$SELECT noetl.render_vars(500, 's', '{}', $j${"x": "{{ 'a\\u0000b' }}"}$j$)$$),
 (48, 'render: result over the size limit',  $$SET LOCAL noetl_vars.max_value_bytes = 2048; SELECT noetl.render_vars(500, 's', to_jsonb(repeat('x', 4096)), '{"x": "{{ this }}"}')$$),
 (49, 'render: infinite number',             $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ 10.0 ** 400 }}"}')$$),
 (50, 'render: a function as a value',       $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ namespace }}"}')$$),
 (51, 'render: division by zero',            $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ 1 / 0 }}"}')$$),
 (52, 'render: unknown method',              $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ vars.keep.nope() }}"}')$$),
 (53, 'render: undefined deep in a path',    $$SELECT noetl.render_vars(500, 's', '{"a": {}}', '{"x": "{{ result.a.b.c.d }}"}')$$),
 (54, 'render: include is not available',    $$SELECT noetl.render_vars(500, 's', '{}', $j${"x": "{% include 'other' %}"}$j$)$$),
 (55, 'render: one bad variable among good', $$SELECT noetl.render_vars(500, 's', '{}', '{"keep": 2, "new": 3, "bad": "{{ nope }}"}')$$),
 (56, 'iteration: NULL item_index',          $$SELECT noetl.render_iteration(500, 's', '1', NULL, 1, '{}', '{}')$$),
 (57, 'iteration: step too long for {step}_count', $$SELECT noetl.render_iteration(500, repeat('s', 1020), '1', 0, 1, '{}', '{}')$$),
 (58, 'iteration: config is an array',       $$SELECT noetl.render_iteration(500, 's', '1', 0, 1, '{}', '[]')$$),
 (59, 'iteration: failing block',            $$SELECT noetl.render_iteration(500, 's', '1', 0, 1, '{}', '{"x": "{{ item.nope }}"}')$$),
 (60, 'iteration: NULL execution_id',        $$SELECT noetl.render_iteration(NULL, 's', '1', 0, 1, '{}', '{}')$$),
 (61, 'set_var: a 10,001-deep value',        $$SELECT noetl.set_var(500, 'd', (repeat('[', 10001) || repeat(']', 10001))::jsonb)$$),
 (62, 'set_vars: a 10,001-deep member',      $$SELECT noetl.set_vars(500, jsonb_build_object('d', (repeat('{"a": ', 10001) || '1' || repeat('}', 10001))::jsonb))$$),
 (63, 'render: a path copies 10,001 levels', $$SELECT noetl.render_vars(500, 's', (repeat('[', 10001) || repeat(']', 10001))::jsonb, '{"copy": "{{ this }}"}')$$),
 (64, 'render: 10,000 levels wrapped in one', $$SELECT noetl.render_vars(500, 's', (repeat('[', 10000) || repeat(']', 10000))::jsonb, '{"copy": ["{{ this }}"]}')$$),
 (65, 'render: a stored value // 0',         $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ vars.keep // 0 }}"}')$$),
 (66, 'render: tojson(indent=4e18)',         $$SELECT noetl.render_vars(500, 's', '{}', '{"x": "{{ [1] | tojson(indent=4000000000000000000) }}"}')$$),
 (67, 'render: a width of 4e18',             $$SELECT noetl.render_vars(500, 's', '{}', $j${"x": "{{ '{:>4000000000000000000}'.format(1) }}"}$j$)$$)
) AS t(n, label, sql) ORDER BY n;

SELECT count(*) = (SELECT count(*) FROM snapshot) AND NOT EXISTS (
    SELECT * FROM noetl.transient EXCEPT SELECT * FROM snapshot
) AS unchanged FROM noetl.transient;

-- Documented non-error answers: these are stored, exactly.
SELECT n, label, pg_temp.try_short(sql) AS outcome FROM (VALUES
 (1, 'names with quotes, %, \, newline, Unicode', $$SELECT noetl.set_vars(501, jsonb_build_object('it''s', 1, '100%s%n', 2, 'a\b', 3, E'two\nlines', 4, 'naïve ☃ 😀', 5, E'\u200b', 6))$$),
 (2, '1e400 and -0',                        $$SELECT noetl.set_vars(501, '{"huge": 1e400, "minus_zero": -0}')$$),
 (3, '10,000-deep value through set_var',   $$SELECT noetl.set_var(501, 'deep', (repeat('[', 10000) || repeat(']', 10000))::jsonb)$$),
 (4, 'deep value stored verbatim by a path', $$SELECT noetl.render_vars(501, 's', (repeat('[', 10000) || repeat(']', 10000))::jsonb, '{"copy": "{{ this }}"}')$$),
 (5, 'a 100,000-element array',             $$SELECT noetl.set_var(501, 'big', (SELECT jsonb_agg(g) FROM generate_series(1, 100000) g))$$),
 (6, 'extreme execution ids',               $$SELECT noetl.set_var(-9223372036854775808, 'min', '1'), noetl.set_var(9223372036854775807, 'max', '2')$$),
 (7, 'a 100,000-deep list inside a template', $$SET LOCAL noetl_vars.template_fuel = 1000000; SELECT noetl.render_vars(501, 's', '{}', '{"n": "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x | length }}"}')$$)
) AS t(n, label, sql) ORDER BY n;
-- (the zero-width space is shown by name: psql 16 gives it no width, 15 one column)
SELECT replace(var_name, U&'\200B', '<U+200B>') AS var_name, length(var_name) AS chars, left(var_value::text, 30) AS value
FROM noetl.transient WHERE execution_id = 501 ORDER BY var_name COLLATE "C";
SELECT noetl.get_var(501, 'huge') = '1e400'::jsonb AS huge_exact,
       noetl.get_var(501, 'deep') = (repeat('[', 10000) || repeat(']', 10000))::jsonb AS deep_exact,
       noetl.get_var(501, 'copy') = (repeat('[', 10000) || repeat(']', 10000))::jsonb AS copy_exact,
       jsonb_array_length(noetl.get_var(501, 'big')) AS big_length;
SELECT noetl.get_all_vars(-9223372036854775808) AS min_id, noetl.get_all_vars(9223372036854775807) AS max_id;
SELECT noetl.cleanup_execution(501), noetl.cleanup_execution(-9223372036854775808), noetl.cleanup_execution(9223372036854775807);
SELECT noetl.cleanup_execution(500);
