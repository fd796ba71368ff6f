-- Production safety (0.3.0): bounded locks, no forged history, history of every change,
-- clear errors, reads that work where nothing can be written.
\ir helpers.psql

-- Our advisory locks held by this session, by key space (20054 executions, 20055 names).
CREATE FUNCTION pg_temp.our_locks() RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(objsubid || ':' || mode || ' x' || n, ', ' ORDER BY objsubid, mode), 'none')
    FROM (SELECT objsubid, mode, count(*) AS n FROM pg_locks
          WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid IN (20054, 20055)
          GROUP BY 1, 2) l
$$;

-- Enumerating 20,000 variables takes one lock on the execution, not one per variable.
SELECT noetl.set_vars(800, (SELECT jsonb_object_agg('v' || g, g) FROM generate_series(1, 20000) g)) ->> 'variables_set' AS set;
BEGIN;
SELECT noetl.render_vars(800, 's', '{}', '{"total": "{{ vars.values() | sum }}"}');
SELECT pg_temp.our_locks();
COMMIT;
-- A block naming more than 32 variables locks the whole execution instead.
BEGIN;
SELECT count(*) FROM jsonb_object_keys(noetl.render_vars(800, 's', '{}', (SELECT jsonb_object_agg('w' || g, g) FROM generate_series(1, 100) g)));
SELECT pg_temp.our_locks();
COMMIT;
-- A static block: the execution (ROW EXCLUSIVE to write) and its names, sorted.
BEGIN;
SELECT noetl.render_vars(801, 's', '{}', '{"a": "{{ vars.b | default(1) }}", "c": 2}');
SELECT pg_temp.our_locks();
COMMIT;

-- One call per execution over thousands of executions fails before taking the locks,
-- instead of filling the shared lock table.
SELECT pg_temp.try($$SELECT count(noetl.set_var(2000000 + g, 'x', '1')) FROM generate_series(1, 10000) g$$) AS many_executions;
SELECT count(*) AS nothing_written FROM noetl.transient WHERE execution_id > 2000000;
SHOW max_locks_per_transaction;  -- the default budget
SET noetl_vars.max_transaction_locks = 1000;
SELECT count(noetl.set_var(2000000 + g, 'x', '1')) AS within_a_raised_budget FROM generate_series(1, 400) g;
RESET noetl_vars.max_transaction_locks;
-- A lock the transaction holds in another mode stays counted when purge_stale gives its own
-- back: delete_var holds execution 810 and a name (2), purging 810 keeps both; 32 more
-- calls of 2 locks would make 66.
SELECT noetl.set_var(810, 'old', '1');
UPDATE noetl.transient SET created_at = created_at - interval '2 days', accessed_at = accessed_at - interval '2 days'
WHERE execution_id = 810;
BEGIN;
SELECT noetl.delete_var(810, 'nope');
SELECT execution_id FROM noetl.purge_stale('1 day', 1);
SELECT pg_temp.try($$SELECT count(noetl.set_var(5000000 + g, 'x', '1')) FROM generate_series(1, 32) g$$) AS counted;
ROLLBACK;
SELECT noetl.cleanup_execution(810);
-- purge_stale gives back each execution's lock: 400 executions, one lock at most at a time.
UPDATE noetl.transient SET created_at = created_at - interval '2 days', accessed_at = accessed_at - interval '2 days'
WHERE execution_id > 2000000;
BEGIN;
SELECT count(*) AS purged FROM noetl.purge_stale('1 day', 20000);
SELECT pg_temp.our_locks();
COMMIT;

-- The trigger function records changes of noetl.transient only.
CREATE TABLE pg_temp.forged (execution_id bigint, var_name text, var_value jsonb, access_count int);
CREATE TRIGGER forge AFTER INSERT ON pg_temp.forged FOR EACH ROW EXECUTE FUNCTION noetl.transient_changed();
SET noetl_vars.track_history = on;
SELECT pg_temp.try($$INSERT INTO pg_temp.forged VALUES (802, 'x', '1', 0)$$) AS attached_elsewhere;
SELECT count(*) AS forged_history FROM noetl.transient_history WHERE execution_id = 802;
SELECT pg_temp.try($$SELECT noetl.transient_changed()$$) AS called_directly;

-- History: every change of value, type, source step or key, however it is written.
SELECT noetl.set_var(803, 'x', '1');
UPDATE noetl.transient SET var_value = '2', access_count = access_count + 1 WHERE execution_id = 803 AND var_name = 'x';
UPDATE noetl.transient SET access_count = access_count + 1, accessed_at = now() WHERE execution_id = 803;  -- a tracked read
UPDATE noetl.transient SET var_name = 'y' WHERE execution_id = 803 AND var_name = 'x';                     -- a rename
UPDATE noetl.transient SET execution_id = 804 WHERE execution_id = 803 AND var_name = 'y';                -- a move
SELECT execution_id, var_name, operation, old_value, new_value FROM noetl.transient_history
WHERE execution_id IN (803, 804) ORDER BY id;
SELECT noetl.var_at(803, 'x', now()) AS x_after_rename, noetl.var_at(804, 'y', now()) AS moved;
-- A block that creates a variable it reads (a placeholder row first) records one insert.
SELECT noetl.render_vars(805, 's', '{}', '{"n": "{{ vars.n | default(0) + 1 }}"}');
SELECT var_name, operation, old_value, new_value FROM noetl.transient_history WHERE execution_id = 805 ORDER BY id;
SET noetl_vars.on_render_error = 'skip';
SELECT noetl.render_vars(805, 's', '{}', '{"m": "{{ vars.m | default(0) + nope }}"}') AS skipped;
RESET noetl_vars.on_render_error;
SELECT count(*) AS placeholder_left FROM noetl.transient WHERE execution_id = 805 AND var_name = 'm';
SELECT count(*) AS placeholder_history FROM noetl.transient_history WHERE execution_id = 805 AND var_name = 'm';
-- A placeholder rolled back with its savepoint leaves no mark: a later write of the same key
-- is recorded (and announced) as what it is.
BEGIN;
SAVEPOINT s;
SELECT pg_temp.try($$SELECT noetl.render_vars(808, 's', '{}', '{"x": "{{ vars.x | default(0) + 1 }}", "y": "{{ vars.nope }}"}')$$) AS failing_block;
ROLLBACK TO s;
INSERT INTO noetl.transient (execution_id, var_name, var_value) VALUES (808, 'x', '42');
UPDATE noetl.transient SET var_value = '1000' WHERE execution_id = 808 AND var_name = 'x';
COMMIT;
SELECT var_name, operation, old_value, new_value FROM noetl.transient_history WHERE execution_id = 808 ORDER BY id;
-- Values equal as numbers but written differently are changes too.
SELECT noetl.set_var(809, 'n', '1');
UPDATE noetl.transient SET var_value = '1.000', access_count = access_count + 1 WHERE execution_id = 809;
SELECT operation, old_value, new_value FROM noetl.transient_history WHERE execution_id = 809 ORDER BY id;
RESET noetl_vars.track_history;

-- Clear errors.
SELECT pg_temp.try($$SELECT noetl.render_vars(806, 's', '{}', '{"x": 1}', '[]')$$) AS context_array;
SELECT pg_temp.try($$SELECT noetl.render_vars(806, 's', '{}', '{"x": 1}', 'null')$$) AS context_null;
SELECT pg_temp.try($$SELECT noetl.set_var(806, 'x', '1', 'user_defined', repeat('s', 100000))$$) AS long_source_step;
SELECT pg_temp.try($$SELECT noetl.set_vars(806, '{"x": 1}', 'user_defined', repeat('s', 100000))$$) AS long_source_step_set_vars;
SET noetl_vars.max_value_bytes = 4096;
SELECT pg_temp.try($$SELECT noetl.render_vars(806, 's', '{}', jsonb_build_object('x', (SELECT jsonb_agg('{{ ' || g || ' }}') FROM generate_series(1, 2000) g)))$$) AS block_templates_over_the_limit;
RESET noetl_vars.max_value_bytes;
SELECT count(*) AS nothing_stored FROM noetl.transient WHERE execution_id = 806;

-- Where nothing can be written, reads are answered and not counted.
SELECT noetl.set_var(807, 'x', '"v"');
BEGIN READ ONLY;
SELECT noetl.get_var(807, 'x') AS get_var, noetl.vars_get(807, 'x') ->> 'value' AS vars_get;
COMMIT;
SELECT access_count FROM noetl.transient WHERE execution_id = 807;

SELECT noetl.cleanup_execution(e) FROM unnest(ARRAY[800, 801, 803, 804, 805, 806, 807, 808, 809]) e ORDER BY e;
