-- apply_set, context_vars and finish_step (docs/set-blocks.md): NoETL's set: blocks and their scopes.
\ir helpers.psql

-- A step's set: block writes each scope its keys name; a bare key is ctx.
SELECT noetl.apply_set(800, 'fetch_user',
    '{"ctx.user_id": "{{ output.data.id }}", "step.attempts": "{{ (step.attempts | default(0)) + 1 }}", "plain": 1}',
    '{"output": {"data": {"id": 12345678901234567890123}, "status": "ok"}, "event": {"name": "step.done"}}') AS stored;
-- ctx.x is the row render_vars, get_var and /api/vars see.
SELECT noetl.get_var(800, 'user_id') AS get_var, var_type, source_step
FROM noetl.transient WHERE execution_id = 800 AND var_name = 'user_id';
SELECT noetl.apply_set(800, 'later', '{"same": "{{ vars.user_id == ctx.user_id and user_id == ctx.user_id }}"}') AS "vars.x, ctx.x and a bare x are one";
SELECT noetl.render_vars(800, 'later', '{}', '{"from_render": "{{ vars.user_id }}"}') AS "render_vars sees it";
-- A retry of the step sees its step values; another step does not.
SELECT noetl.apply_set(800, 'fetch_user', '{"step.attempts": "{{ (step.attempts | default(0)) + 1 }}"}') AS retry;
SELECT noetl.apply_set(800, 'process', '{"ctx.seen": "{{ step.attempts | default(\"none\") }}"}') AS other_step;
-- An arc's set: block reads the event and the step's output.
SELECT noetl.apply_set(800, 'fetch_user', $${"ctx.result_ref": "{{ output.ref if event.name == 'step.done' else none }}"}$$,
    '{"output": {"ref": "s3://b/k"}, "event": {"name": "step.done", "step": "fetch_user"}}') AS arc;

-- Iterations: each sees only its own iter values, and the iterator the server passes.
SELECT noetl.apply_set(800, 'process', '{"iter.last_id": "{{ iter.item.id }}", "ctx.processed": "{{ (ctx.processed | default(0)) + 1 }}"}',
    '{"iter": {"item": {"id": 7}, "_index": 0, "_first": true, "_last": false}}', iteration => 0) AS iteration_0;
SELECT noetl.apply_set(800, 'process', '{"iter.last_id": "{{ iter.item.id }}", "ctx.processed": "{{ (ctx.processed | default(0)) + 1 }}"}',
    '{"iter": {"item": {"id": 8}, "_index": 1, "_first": false, "_last": true}}', iteration => 1) AS iteration_1;
SELECT noetl.apply_set(800, 'process', '{"ctx.mine": "{{ iter.last_id }}", "ctx.others": "{{ iter.get(\"nope\", \"none\") }}"}',
    '{}', iteration => 1) AS reads_its_own;
SELECT noetl.apply_set(800, 'process', '{"ctx.missing": "{{ iter.last_id | default(\"none\") }}"}', '{}', iteration => 2) AS iteration_2_sees_nothing;

-- Dependency order across scopes, and execution_id as an integer.
SELECT noetl.apply_set(800, 'calc', '{"ctx.total": "{{ step.n * 2 }}", "step.n": "{{ iter.x + 1 }}", "iter.x": 20, "ctx.eid": "{{ execution_id }}"}',
    '{}', iteration => 0) AS ordered;

-- Shared scopes: a playbook's, the global one.
SELECT noetl.apply_set(800, 'fetch_user', '{"workflow.runs": "{{ (workflow.runs | default(0)) + 1 }}", "global.limit": 10}',
    playbook => 'catalog/etl/users') AS shared;
SELECT noetl.apply_set(801, 'fetch_user', '{"workflow.runs": "{{ (workflow.runs | default(0)) + 1 }}", "ctx.cap": "{{ global.limit * 2 }}"}',
    playbook => 'catalog/etl/users') AS another_execution;
SELECT noetl.apply_set(802, 'fetch_user', '{"ctx.runs": "{{ workflow.runs | default(0) }}"}', playbook => 'catalog/other') AS another_playbook;

-- One read of everything a step's templates see.
SELECT noetl.context_vars(800, 'process', 1, playbook => 'catalog/etl/users') AS context;
SELECT noetl.context_vars(800) AS "no step, no iteration, no playbook";
SELECT noetl.context_vars(800, NULL, 1) AS "an iteration without a step";

-- Errors name what was wrong.
SELECT pg_temp.try($$SELECT noetl.apply_set(800, 's', '{"foo.x": 1}')$$) AS unknown_prefix;
SELECT pg_temp.try($$SELECT noetl.apply_set(800, 's', '{"ctx.": 1}')$$) AS only_a_prefix;
SELECT pg_temp.try($$SELECT noetl.apply_set(800, 's', '{"iter.x": 1}')$$) AS iter_without_iteration;
SELECT pg_temp.try($$SELECT noetl.apply_set(800, 's', '{"workflow.x": 1}')$$) AS workflow_without_playbook;
SELECT pg_temp.try($$SELECT noetl.apply_set(800, 's', '{"x": 1, "ctx.x": 2}')$$) AS same_variable_twice;
SELECT pg_temp.try($$SELECT noetl.apply_set(800, 's', '[1]')$$) AS not_an_object;
SELECT pg_temp.try($$SELECT noetl.apply_set(NULL, 's', '{}')$$) AS null_execution;
SELECT pg_temp.try($$SELECT noetl.apply_set(800, 's', '{}', playbook => '')$$) AS empty_playbook;
SELECT pg_temp.try($$SELECT noetl.apply_set(800, 's', '{"ctx.a": "{{ ctx.nope }}"}')$$) AS undefined;
-- All or nothing: a failing key stores nothing of the block, in any scope.
SELECT pg_temp.try($$SELECT noetl.apply_set(800, 'atomic', '{"ctx.ok": 1, "step.ok": 2, "global.ok": 3, "ctx.bad": "{{ 1 / 0 }}"}')$$) AS failing_block;
SELECT (SELECT count(*) FROM noetl.transient WHERE execution_id = 800 AND var_name = 'ok') AS ctx_rows,
       (SELECT count(*) FROM noetl.step_vars WHERE step = 'atomic') AS step_rows,
       (SELECT count(*) FROM noetl.global_vars WHERE var_name = 'ok') AS global_rows;
-- An empty or NULL block does nothing.
SELECT noetl.apply_set(800, 's', '{}') AS empty, noetl.apply_set(800, 's', NULL) AS null_block;

-- finish_step removes the step's own and iteration values, nothing else.
SELECT noetl.finish_step(800, 'process') AS removed;
SELECT noetl.context_vars(800, 'process', 1) -> 'iter' AS iter_after, noetl.context_vars(800, 'fetch_user') -> 'step' AS other_step_kept;
SELECT noetl.finish_step(800, 'process') AS removed_again;
SELECT noetl.get_var(800, 'processed') AS execution_variable_kept;
