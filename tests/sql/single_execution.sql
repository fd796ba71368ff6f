-- Every function touches one execution only (what makes them delegable to the shard holding
-- it when noetl.transient is distributed by execution_id): run each on execution 900 with
-- neighbours 899 and 901 holding the same names, and check the neighbours stay exactly as
-- they were and nothing of theirs shows up in any answer.
\ir helpers.psql

SELECT noetl.set_vars(e, '{"a": "neighbour", "b": 2, "counter": 100}') FROM (VALUES (899), (901)) v(e);
SELECT noetl.get_var(899, 'a'), noetl.get_var(901, 'a');
CREATE TEMP TABLE neighbours AS SELECT * FROM noetl.transient WHERE execution_id IN (899, 901);

SELECT noetl.set_var(900, 'a', '"mine"');
SELECT noetl.set_vars(900, '{"b": 20}');
SELECT noetl.get_var(900, 'a'), noetl.get_all_vars(900);
SELECT noetl.render_vars(900, 's', '{}', '{"counter": "{{ vars.counter | default(0) + 1 }}", "all": "{{ vars | length }}", "b2": "{{ b * 2 }}"}');
SELECT noetl.render_iteration(900, 's', '1', 0, 1, '{}', '{"seen": "{{ vars.a }}"}');
SELECT noetl.vars_list(900)->'count' AS count, noetl.vars_get(900, 'a')->'value' AS a;
SELECT noetl.delete_var(900, 'a'), noetl.vars_delete(900, 'b')->'deleted';
SELECT noetl.var_at(900, 'a', now());
SELECT noetl.cleanup_execution(900), noetl.vars_cleanup(900)->'deleted_count';

SELECT count(*) = 6 AND NOT EXISTS (
    SELECT * FROM noetl.transient WHERE execution_id IN (899, 901) EXCEPT SELECT * FROM neighbours
) AS neighbours_untouched FROM noetl.transient WHERE execution_id IN (899, 901);
SELECT noetl.cleanup_execution(899), noetl.cleanup_execution(901);
