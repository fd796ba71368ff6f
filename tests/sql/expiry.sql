-- Lifetimes (docs/operations.md, "Lifetimes"): a variable whose expires_at has passed is gone
-- for every read path at once, a write over it starts it afresh, and purge_expired deletes
-- such rows in bounded batches.
\ir helpers.psql
SELECT noetl.set_vars(870, '{"live": 1, "gone": 2, "later": 3, "n": 41}') IS NOT NULL AS seeded;
SELECT noetl.get_var(870, 'gone') AS read_once, noetl.get_var(870, 'n') AS n_read_once;
SELECT created_at AS n_created FROM noetl.transient WHERE execution_id = 870 AND var_name = 'n' \gset
-- expires_at comes from plain SQL for now (or from a table adopt_transient took over).
UPDATE noetl.transient SET expires_at = pg_catalog.now() - interval '1 second'
WHERE execution_id = 870 AND var_name IN ('gone', 'n');
UPDATE noetl.transient SET expires_at = pg_catalog.now() + interval '1 hour'
WHERE execution_id = 870 AND var_name = 'later';

-- The store and the response bodies.
SELECT noetl.get_var(870, 'gone') IS NULL AS get_var_gone,
       noetl.get_all_vars(870) AS get_all_vars,
       noetl.vars_get(870, 'gone') IS NULL AS vars_get_gone,
       noetl.vars_list(870) -> 'count' AS vars_list_count,
       noetl.vars_list(870) -> 'variables' ? 'gone' AS vars_list_has_gone;
-- Templates: by path, bare name, vars.get, enumeration, is defined, default.
SELECT noetl.render_vars(870, 's', '{}', $j${
    "by_path": "{{ vars.gone | default('none') }}",
    "bare": "{{ gone | default('none') }}",
    "by_get": "{{ vars.get('gone', 'none') }}",
    "names": "{{ vars | list | sort | join(',') }}",
    "defined": "{{ vars.gone is defined }}",
    "live": "{{ vars.live }}"}$j$) AS render_vars;
SELECT pg_temp.try($$SELECT noetl.render_vars(870, 's', '{}', '{"x": "{{ vars.gone }}"}')$$) AS undefined_when_used;
-- apply_set's ctx, context_vars and the operators' view.
SELECT noetl.apply_set(870, 'a', '{"step.saw": "{{ ctx.gone | default(\"none\") }}"}') AS apply_set;
SELECT noetl.context_vars(870) -> 'ctx' ? 'gone' AS context_vars_has_gone;
SELECT variables FROM noetl.executions WHERE execution_id = 870;

-- A write over an expired variable starts it afresh; over a live one it keeps the lifetime.
SELECT noetl.render_vars(870, 's', '{}', '{"n": "{{ (vars.n | default(0)) + 1 }}"}') AS restarted_counter;
SELECT var_name, var_value, access_count, expires_at IS NULL AS no_lifetime,
       created_at > :'n_created' AS created_anew
FROM noetl.transient WHERE execution_id = 870 AND var_name IN ('n', 'gone', 'later') ORDER BY var_name;
SELECT noetl.set_var(870, 'later', '30') IS NOT NULL AS overwritten;
SELECT expires_at > pg_catalog.now() AS later_keeps_its_lifetime FROM noetl.transient
WHERE execution_id = 870 AND var_name = 'later';

-- purge_expired: bounded batches, the first to end first; a bad batch is refused.
INSERT INTO noetl.transient (execution_id, var_name, var_value, expires_at)
SELECT 871, 'v' || g, pg_catalog.to_jsonb(g), pg_catalog.now() - g * interval '1 minute'
FROM pg_catalog.generate_series(1, 5) g;
SELECT noetl.purge_expired(2) AS first_batch;
SELECT pg_catalog.string_agg(var_name, ',' ORDER BY var_name) AS left_after_first_batch
FROM noetl.transient WHERE execution_id = 871;
SELECT noetl.purge_expired() AS the_rest;
SELECT pg_catalog.count(*) AS expired_left FROM noetl.transient
WHERE expires_at <= pg_catalog.now();
SELECT pg_temp.try($$SELECT noetl.purge_expired(0)$$) AS zero_batch,
       pg_temp.try($$SELECT noetl.purge_expired(NULL)$$) AS null_batch;
SELECT noetl.get_all_vars(870) AS after_purge;
-- Deleting a variable whose lifetime has ended removes its row and says so.
UPDATE noetl.transient SET expires_at = pg_catalog.now() - interval '1 second'
WHERE execution_id = 870 AND var_name = 'live';
SELECT noetl.vars_delete(870, 'live') -> 'deleted' AS deleted;
SELECT pg_catalog.count(*) AS rows_left FROM noetl.transient
WHERE execution_id = 870 AND var_name = 'live';
SELECT noetl.cleanup_execution(870), noetl.finish_step(870, 'a');
-- purge_stale deletes expired variables of executions still in use too, and lists them.
SELECT noetl.set_vars(872, '{"keep": 1, "old1": 2, "old2": 3}') IS NOT NULL AS seeded;
UPDATE noetl.transient SET expires_at = pg_catalog.now() - interval '1 second'
WHERE execution_id = 872 AND var_name IN ('old1', 'old2');
SELECT execution_id, variables FROM noetl.purge_stale('7 days');
SELECT pg_catalog.string_agg(var_name, ',' ORDER BY var_name) AS left_in_872
FROM noetl.transient WHERE execution_id = 872;
SELECT noetl.cleanup_execution(872) AS cleaned_up;
