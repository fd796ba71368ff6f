-- Setting a lifetime (docs/operations.md, "Lifetimes"): every write path takes ttl, a vars: or
-- set: block takes $ttl per variable, a bad lifetime is 22023 naming it, and a variable ends
-- when its lifetime does.
\ir helpers.psql
-- Whether a variable's lifetime ends `ttl` after the statement that wrote it started
-- (expires_at = statement_timestamp() + ttl, checked against the clock around the check).
CREATE FUNCTION pg_temp.lives(e bigint, n text, ttl interval) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN t.expires_at IS NULL THEN 'no lifetime'
                WHEN t.expires_at BETWEEN pg_catalog.statement_timestamp() + ttl - interval '1 minute'
                                      AND pg_catalog.clock_timestamp() + ttl THEN 'for ' || ttl
                ELSE 'until ' || t.expires_at END
    FROM noetl.transient t WHERE t.execution_id = e AND t.var_name = n
$$;

-- The store functions.
SELECT noetl.set_var(880, 'token', '"abc"', ttl => interval '15 minutes') IS NOT NULL AS set_var;
SELECT noetl.set_vars(880, '{"a": 1, "b": 2}', ttl => interval '2 hours') ->> 'variables_set' AS set_vars;
SELECT noetl.set_var(880, 'plain', '1') IS NOT NULL AS without_ttl;
SELECT n, pg_temp.lives(880, n, i) FROM (VALUES ('token', interval '15 minutes'), ('a', interval '2 hours'),
    ('b', interval '2 hours'), ('plain', NULL)) v(n, i) ORDER BY n;
-- A calendar month is a calendar month.
SELECT noetl.set_var(880, 'monthly', '1', ttl => interval '1 month') IS NOT NULL AS monthly;
SELECT pg_temp.lives(880, 'monthly', interval '1 month');

-- An overwrite without ttl keeps the lifetime; with ttl it starts a new one from now.
SELECT noetl.set_var(880, 'token', '"def"') IS NOT NULL AS overwritten;
SELECT pg_temp.lives(880, 'token', interval '15 minutes') AS kept;
SELECT noetl.set_var(880, 'token', '"ghi"', ttl => interval '1 day') IS NOT NULL AS overwritten_with_ttl;
SELECT pg_temp.lives(880, 'token', interval '1 day') AS renewed;

-- A lifetime that is no lifetime is refused, naming the argument, and nothing is written.
SELECT t, pg_temp.try(pg_catalog.format($$SELECT noetl.set_var(881, 'x', '1', ttl => %L)$$, t))
FROM (VALUES ('0'), ('-5 minutes'), ('1 month -29 days'), ('1 day -1 hour'), ('101 years')) v(t);
SELECT pg_temp.try($$SELECT noetl.set_vars(881, '{"x": 1}', ttl => '0')$$) AS set_vars_zero,
       pg_temp.try($$SELECT noetl.render_vars(881, 's', '{}', '{"x": 1}', ttl => '-1 second')$$) AS render_vars_negative,
       pg_temp.try($$SELECT noetl.render_iteration(881, 's', '1', 0, 1, NULL, '{}', ttl => '0')$$) AS render_iteration_zero,
       pg_temp.try($$SELECT noetl.apply_set(881, 's', '{"x": 1}', ttl => '0')$$) AS apply_set_zero;
SELECT count(*) AS nothing_written FROM noetl.transient WHERE execution_id = 881;

-- render_vars: $ttl per variable wins over ttl; a $ttl text or number covers the whole block.
SELECT noetl.render_vars(882, 'login', '{"token": "t1", "user": "u"}', $j${
    "token": "{{ result.token }}", "user": "{{ result.user }}", "seen": 1,
    "$ttl": {"token": "15 minutes", "user": 3600}}$j$, ttl => interval '1 day') AS render_vars;
SELECT n, pg_temp.lives(882, n, i) FROM (VALUES ('token', interval '15 minutes'), ('user', interval '1 hour'),
    ('seen', interval '1 day')) v(n, i) ORDER BY n;
SELECT noetl.render_vars(882, 'again', '{}', '{"x": 1, "y": 2, "$ttl": "1h30m"}') AS whole_block;
SELECT n, pg_temp.lives(882, n, interval '90 minutes') FROM (VALUES ('x'), ('y')) v(n) ORDER BY n;
-- Before/after blocks: $ttl beside the variables of its phase.
SELECT noetl.render_vars(882, 'phased', NULL, '{"before": {"started": 1, "$ttl": "1 week"}}', phase => 'before') AS before_phase;
SELECT pg_temp.lives(882, 'started', interval '7 days');
SELECT pg_temp.try($$SELECT noetl.render_vars(882, 'phased', '{}', '{"after": {"x": 1}, "$ttl": 60}')$$) AS misplaced;
-- Bad $ttl: named, and nothing of the block is written.
SELECT pg_temp.try($$SELECT noetl.render_vars(883, 's', '{}', '{"x": 1, "$ttl": {"x": "soon"}}')$$) AS not_a_duration,
       pg_temp.try($$SELECT noetl.render_vars(883, 's', '{}', '{"x": 1, "$ttl": {"y": 60}}')$$) AS not_in_block,
       pg_temp.try($$SELECT noetl.render_vars(883, 's', '{}', '{"x": 1, "$ttl": {"x": 0}}')$$) AS zero,
       pg_temp.try($$SELECT noetl.render_vars(883, 's', '{}', '{"x": 1, "$ttl": "1 month"}')$$) AS months_in_blocks;
SELECT count(*) AS nothing_written FROM noetl.transient WHERE execution_id = 883;

-- render_iteration: ttl covers the iteration's counters too; the block's $ttl only its own.
SELECT noetl.render_iteration(884, 'loop', '"a"', 0, 2, NULL, '{"seen": "{{ item }}", "$ttl": {"seen": 60}}',
                              ttl => interval '10 minutes') AS render_iteration;
SELECT n, pg_temp.lives(884, n, i) FROM (VALUES ('seen', interval '1 minute'), ('loop_index', interval '10 minutes'),
    ('loop_count', interval '10 minutes')) v(n, i) ORDER BY n;

-- apply_set: execution variables only; a $ttl on another scope is refused.
SELECT noetl.apply_set(885, 's', $j${"ctx.token": "x", "cursor": 5, "step.n": 1,
                                    "$ttl": {"ctx.token": "30s"}}$j$, ttl => interval '1 hour') AS apply_set;
SELECT n, pg_temp.lives(885, n, i) FROM (VALUES ('token', interval '30 seconds'), ('cursor', interval '1 hour')) v(n, i) ORDER BY n;
SELECT pg_temp.try($$SELECT noetl.apply_set(885, 's', '{"step.n": 1, "$ttl": {"step.n": 60}}')$$) AS step_scope,
       pg_temp.try($$SELECT noetl.apply_set(885, 's', '{"global.n": 1, "$ttl": {"global.n": 60}}')$$) AS global_scope;

-- A variable ends when its lifetime does: gone for every read, and written afresh.
SELECT noetl.set_var(886, 'brief', '1', ttl => interval '20 milliseconds') IS NOT NULL AS brief;
SELECT pg_catalog.pg_sleep(0.1);
SELECT noetl.get_var(886, 'brief') IS NULL AS gone,
       noetl.render_vars(886, 's', '{}', '{"b": "{{ vars.brief | default(\"none\") }}"}') ->> 'b' AS in_templates;
-- History records a write with a lifetime like any other.
SET noetl_vars.track_history = on;
SELECT noetl.set_var(887, 'h', '1', ttl => interval '1 hour') IS NOT NULL AS with_history;
SELECT count(*) AS history_rows FROM noetl.transient_history WHERE execution_id = 887 AND var_name = 'h';
RESET noetl_vars.track_history;
-- Redaction shows a credential with a lifetime as any other.
SELECT noetl.vars_get(880, 'token') ->> 'value' AS redacted;
