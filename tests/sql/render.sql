-- render_vars and render_iteration end to end (docs/reference.md, `render_vars` and `render_iteration`).
\ir helpers.psql

-- The value one template stores, rendered for execution 300 with this result and context.
CREATE FUNCTION pg_temp.one(template jsonb, result jsonb DEFAULT '{}', context jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql AS $$
    SELECT noetl.render_vars(300, 'probe', result, jsonb_build_object('v', template), context)->'v'
$$;

-- The typing examples of docs/reference.md (`render_vars`), row by row.
SELECT pg_temp.one('"{{ result[0].user_id }}"', '[{"user_id": 12345}]') AS "result[0].user_id";
SELECT noetl.set_var(300, 'counter', '0');
SELECT noetl.render_vars(300, 'probe', '{}', '{"counter": "{{ vars.counter + 1 }}"}') AS "vars.counter + 1";
SELECT pg_temp.one('"{{ this.data.items | length }}"', '{"data": {"items": [1, 2, 3]}}') AS "items | length";
SELECT pg_temp.one('"{{ vars.attempt | default(1) }}"') AS "default(1)";
SELECT pg_temp.one($$"{{ this.error if this.status == 'error' else null }}"$$, '{"status": "ok"}') AS "conditional null";
SELECT pg_temp.one('"{{ workload.base_url }}/users"', '{}', '{"workload": {"base_url": "https://a"}}') AS "text";
SELECT noetl.render_vars(300, 'probe', '{}', '{"zero": 0, "yes": true, "nil": null, "empty": []}') AS literals;
SELECT pg_temp.try($$SELECT noetl.render_vars(300, 'probe', '{}', '{"x": "{{ vars.nope }}"}')$$) AS "vars.nope";

-- Rule 2: one expression keeps its JSON type; pure paths are copied digit for digit.
SELECT pg_temp.one('"{{ result.id }}"', '{"id": 12345678901234567890123}') AS big_int,
       pg_temp.one('"{{ result.f }}"', '{"f": 0.1000000000000000000001}') AS long_fraction,
       pg_temp.one('"{{ result.h }}"', '{"h": 1e400}') = '1e400' AS huge_exact;
-- ... also through a variable: stored (vars.x, a bare x) or assigned earlier in the block.
SELECT noetl.set_vars(300, '{"huge": 1e400, "deep": {"f": 0.1000000000000000000001}}');
SELECT r->'a' = '1e400' AS "vars.huge", r->'b' = '1e400' AS huge, r->'c' AS "vars.deep.f", r->'e' AS "vars.d"
FROM noetl.render_vars(300, 'probe', '{"f": 0.2000000000000000000002}',
    '{"a": "{{ vars.huge }}", "b": "{{ huge }}", "c": "{{ vars.deep.f }}", "d": "{{ result.f }}", "e": "{{ vars.d }}"}') AS r;
SELECT pg_temp.one('"{{ this.data }}"', '{"data": {"a": [1, 2.50, "x"], "b": {"c": null}}}') AS whole_subtree;
SELECT pg_temp.one('"{{ 7 / 2 }}"') AS float, pg_temp.one('"{{ 2 > 1 }}"') AS bool,
       pg_temp.one('"{{ none }}"') AS null, pg_temp.one($$"{{ {'k': [1, 'two']} }}"$$) AS object;
SELECT pg_temp.one('"{{ result.code }}"', '{"code": "007"}') AS "007 stays a string",
       pg_temp.one('"{{ result.flag }}"', '{"flag": "true"}') AS "true stays a string";

-- Rule 1 and 3: non-strings verbatim, nested strings rendered, keys never; plain text unchanged.
SELECT noetl.render_vars(300, 'probe', '{"x": 41}',
    '{"o": {"n": 1.50, "{{ k }}": "{{ result.x + 1 }}", "l": ["{{ result.x }}", false]}, "s": "no {template} here"}') AS nested;

-- Rule 4: missing names are errors unless handled.
SELECT pg_temp.one('"{{ result.missing | default(5) }}"') AS "default",
       pg_temp.one('"{{ result.missing is defined }}"') AS "is defined",
       pg_temp.one($$"{{ 'y' if result.missing else 'n' }}"$$) AS "conditional",
       pg_temp.one('"{{ result.x | default(5) }}"', '{"x": null}') AS "default keeps null";
SELECT pg_temp.try($$SELECT pg_temp.one('"{{ result.users[5].id }}"', '{"users": []}')$$) AS missing_index;

-- Rule 5: dependency order, self-reads see the stored value, cycles are errors.
SELECT noetl.set_var(301, 'base', '1000');
SELECT noetl.render_vars(301, 'calc', '{"n": 21}',
    '{"total": "{{ vars.base * 2 }}", "base": "{{ result.n }}", "label": "total={{ vars.total }}"}') AS ordered;
SELECT noetl.render_vars(301, 'calc', '{}', '{"base": "{{ vars.base + 1 }}", "prev": "{{ vars.base }}"}') AS self_read;
SELECT pg_temp.try($$SELECT noetl.render_vars(301, 'calc', '{}', '{"a": "{{ vars.b }}", "b": "{{ vars.a }}"}')$$) AS cycle;

-- Context names and their priority: vars > step results > workload > built-ins.
SELECT noetl.set_var(302, 'x', '"from vars"');
SELECT noetl.render_vars(302, 'ctx', '{"status": "ok", "data": {"id": 9}}',
    '{"a": "{{ x }}", "b": "{{ y }}", "c": "{{ z }}", "d": "{{ range(2) | list }}", "e": "{{ fetch_user.data.email }}",
      "f": "{{ result.id }}/{{ this.status }}", "g": "{{ execution_id }}", "h": "{{ step }}", "i": "{{ job.id }}", "j": "{{ item }}"}',
    '{"workload": {"x": "w", "y": "w", "z": "from workload"}, "results": {"x": "r", "y": "from results", "fetch_user": {"data": {"email": "a@b"}}},
      "job": {"id": "j-1"}, "item": 4}') AS context;

-- Before/after blocks and phases.
SELECT noetl.render_vars(303, 'step', NULL, '{"before": {"started": "{{ now() > 0 }}", "r": "{{ result | default(\"none yet\") }}"}, "after": {"done": "{{ result.ok }}"}}', '{}', 'before') AS before;
SELECT noetl.render_vars(303, 'step', '{"ok": true}', '{"before": {"started": true}, "after": {"done": "{{ result.ok }}"}}') AS after;
SELECT noetl.render_vars(303, 'step', '{}', '{"simple": 1}', '{}', 'before') AS simple_block_before;
SELECT noetl.render_vars(303, 'step', '{}', NULL) AS null_config, noetl.render_vars(303, 'step', '{}', '{}') AS empty_config;
SELECT pg_temp.try($$SELECT noetl.render_vars(303, 'step', '{}', '{"x": 1}', '{}', 'during')$$) AS bad_phase;

-- Functions and filters.
SELECT pg_temp.one($$"{{ 'user:pa55' | b64encode }}"$$) AS b64encode,
       pg_temp.one($$"{{ 'dXNlcjpwYTU1' | b64decode }}"$$) AS b64decode,
       pg_temp.one('"{{ result | tojson }}"', '{"b": 1, "a": [true, null]}') AS tojson,
       pg_temp.one('"{{ result.name.upper() }}"', '{"name": "ada"}') AS upper,
       pg_temp.one('"{{ result.get(\"x\", 3) }}"') AS get,
       pg_temp.one('"flag={{ result.f }}"', '{"f": true}') AS python_text;
SELECT jsonb_typeof(pg_temp.one('"{{ now() }}"')) AS now_type,
       abs((pg_temp.one('"{{ now() }}"'))::text::float8 - extract(epoch FROM clock_timestamp())) < 60 AS now_is_wall_clock;

-- Iterations: iterator state plus the per-iteration block, with item in the context.
SELECT noetl.render_iteration(304, 'fetch_page', '{"page": 1}', 0, 3, '{"rows": 10}', '{"rows_seen": "{{ vars.rows_seen | default(0) + result.rows }}", "page": "{{ item.page }}"}') AS first;
SELECT noetl.render_iteration(304, 'fetch_page', '{"page": 2}', 1, 3, '{"rows": 5}', '{"rows_seen": "{{ vars.rows_seen | default(0) + result.rows }}", "page": "{{ item.page }}"}') AS second;
SELECT var_name, var_type, source_step, var_value FROM noetl.transient WHERE execution_id = 304 ORDER BY var_name;
SELECT pg_temp.try($$SELECT noetl.render_iteration(304, 'fetch_page', '{}', NULL, 3, '{}', '{}')$$) AS null_index;

-- Errors: each kind with its SQLSTATE; the message names step, variable and template.
SELECT label, pg_temp.try(sql) AS outcome FROM (VALUES
    ('syntax',           $$SELECT pg_temp.one('"{{ 1 + }}"')$$),
    ('undefined',        $$SELECT pg_temp.one('"{{ nope }}"')$$),
    ('undefined in +',   $$SELECT pg_temp.one('"{{ vars.nope + 1 }}"')$$),
    ('unknown filter',   $$SELECT pg_temp.one('"{{ 1 | frobnicate }}"')$$),
    ('type error',       $$SELECT pg_temp.one($q$"{{ 'a' - 1 }}"$q$)$$),
    ('not JSON',         $$SELECT pg_temp.one('"{{ range }}"')$$),
    ('infinite float',   $$SELECT pg_temp.one('"{{ 1e308 * 10 }}"')$$),
    ('endless loop',     $$SELECT pg_temp.one('"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"')$$),
    ('memory bomb',      $$SELECT pg_temp.one($q$"{{ 'a' * 10**12 }}"$q$)$$),
    ('huge range',       $$SELECT pg_temp.one('"{{ range(10**12) | list }}"')$$),
    ('NUL character',    $$SELECT pg_temp.one($q$"{{ '\\u0000' }}"$q$)$$),
    ('non-object config',$$SELECT noetl.render_vars(305, 's', '{}', '["{{ x }}"]')$$),
    ('NULL step',        $$SELECT noetl.render_vars(305, NULL, '{}', '{"x": 1}')$$),
    ('empty step',       $$SELECT noetl.render_vars(305, '', '{}', '{"x": 1}')$$),
    ('NULL phase',       $$SELECT noetl.render_vars(305, 's', '{}', '{"x": 1}', '{}', NULL)$$),
    ('empty var name',   $$SELECT noetl.render_vars(305, 's', '{}', '{"": 1}')$$)
) AS t(label, sql);
SET noetl_vars.max_value_bytes = 1024;
SELECT pg_temp.try($$SELECT noetl.render_vars(305, 's', '{}', $j${"big": "{{ 'x' * 5000 }}"}$j$)$$) AS too_large;
RESET noetl_vars.max_value_bytes;
SET noetl_vars.template_fuel = 100;
SELECT pg_temp.try($$SELECT pg_temp.one('"{% for i in range(1000) %}{{ i }}{% endfor %}"')$$) AS out_of_fuel;
RESET noetl_vars.template_fuel;

-- All or nothing: a failing block stores none of its variables.
SELECT pg_temp.try($$SELECT noetl.render_vars(306, 's', '{}', '{"good": 1, "bad": "{{ vars.nope }}"}')$$) AS failed_block;
SELECT count(*) AS stored_after_failure FROM noetl.transient WHERE execution_id = 306;

-- Skip mode: warn per failing variable, store the rest.
SET noetl_vars.on_render_error = 'skip';
SELECT noetl.render_vars(306, 's', '{}', '{"good": 1, "bad": "{{ vars.nope }}", "later": "{{ vars.good + 1 }}", "c1": "{{ vars.c2 }}", "c2": "{{ vars.c1 }}"}') AS skipped;
RESET noetl_vars.on_render_error;
SELECT var_name, var_value FROM noetl.transient WHERE execution_id = 306 ORDER BY var_name;

-- A block with more templates than the template cache holds keeps all of them until it ran.
SET noetl_vars.template_cache_size = 1;
SELECT noetl.render_vars(307, 's', '{}', '{"x": "{{ 11 }}", "y": "{{ 12 }}", "z": "{{ vars.x + vars.y }}"}') AS tiny_cache;
RESET noetl_vars.template_cache_size;
SELECT count(*) AS more_templates_than_the_cache FROM jsonb_object_keys(noetl.render_vars(307, 's', '{}',
    (SELECT jsonb_object_agg('v' || g, 'k-{{ ' || g || ' }}') FROM generate_series(1, 1100) g)));

-- vars.get('name') is a dependency like vars.name; a circle through it is a cycle.
SELECT noetl.render_vars(307, 's', '{}', $j${"y": "{{ vars.get('z') }}", "z": "{{ 6 }}"}$j$) AS get_is_a_dependency;
SELECT pg_temp.try($$SELECT noetl.render_vars(307, 's', '{}', $j${"a": "{{ vars['b'] }}", "b": "{{ vars.get('a') }}"}$j$)$$) AS get_cycle;

-- {step}_count at the bigint maximum is an error, not a count that stops moving.
SELECT noetl.set_var(307, 'c_count', '9223372036854775806', 'iterator_state');
SELECT noetl.render_iteration(307, 'c', '1', 0, 1, '{}', '{}') -> 'c_count' AS last_count;
SELECT pg_temp.try($$SELECT noetl.render_iteration(307, 'c', '1', 0, 1, '{}', '{}')$$) AS count_overflow;

-- A block that writes one of its iteration's counters replaces it in what is stored and
-- returned, among a few names and among many.
SELECT noetl.render_iteration(640, 'loop', '"a"', 0, 2, NULL, '{"loop_index": 7}') ->> 'loop_index' AS few_names;
SELECT noetl.render_iteration(640, 'loop', '"a"', 1, 2, NULL,
    (SELECT jsonb_object_agg('v' || g, g) FROM generate_series(1, 20) g) || '{"loop_index": 9, "loop_total": 3}')
    - ARRAY(SELECT 'v' || g FROM generate_series(1, 20) g) AS many_names;
SELECT var_name, var_value FROM noetl.transient WHERE execution_id = 640 AND var_name LIKE 'loop%' ORDER BY 1;
SELECT count(*) AS stored FROM noetl.transient WHERE execution_id = 640;
SELECT noetl.cleanup_execution(640);
