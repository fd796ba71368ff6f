-- noetl_vars: access rules and the documentation of every object (\dx+, \d+, \df+).
-- Runs last, when every object exists.

-- Least privilege: nothing is usable by PUBLIC; an application role needs the grants listed in
-- docs/security.md ("Privileges"). The functions are listed one by one so that functions of other
-- owners in a pre-existing schema noetl are left alone.
REVOKE ALL ON TABLE noetl.transient, noetl.transient_history, noetl.executions,
    noetl.step_vars, noetl.workflow_vars, noetl.global_vars, noetl.applied_events FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    noetl.set_var(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.interval),
    noetl.get_var(pg_catalog.int8, pg_catalog.text),
    noetl.get_all_vars(pg_catalog.int8),
    noetl.set_vars(pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.interval),
    noetl.delete_var(pg_catalog.int8, pg_catalog.text),
    noetl.cleanup_execution(pg_catalog.int8),
    noetl.vars_list(pg_catalog.int8),
    noetl.vars_get(pg_catalog.int8, pg_catalog.text),
    noetl.vars_delete(pg_catalog.int8, pg_catalog.text),
    noetl.vars_cleanup(pg_catalog.int8),
    noetl.render_vars(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text, pg_catalog.interval, pg_catalog.text),
    noetl.render_iteration(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.int4, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.interval, pg_catalog.text),
    noetl.apply_set(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.text, pg_catalog.interval, pg_catalog.text),
    noetl.context_vars(pg_catalog.int8, pg_catalog.text, pg_catalog.int4, pg_catalog.text),
    noetl.finish_step(pg_catalog.int8, pg_catalog.text),
    noetl.resume_execution(pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text),
    noetl.var_at(pg_catalog.int8, pg_catalog.text, pg_catalog.timestamptz),
    noetl.purge_stale(pg_catalog.interval, pg_catalog.int4),
    noetl.purge_expired(pg_catalog.int4),
    noetl.purge_execution(pg_catalog.int8, pg_catalog.interval),
    noetl.adopt_transient(pg_catalog.regclass),
    noetl.transient_changed()
FROM PUBLIC;
-- The change trigger writes history with the extension owner's rights, so application roles
-- need no access to the history table and cannot forge it. Every statement it runs is
-- schema-qualified; the fixed search_path is a second line of defence.
ALTER FUNCTION noetl.transient_changed() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON TABLE noetl.transient IS
    'Execution-scoped NoETL workflow variables, one row per (execution_id, var_name). Written by the noetl.* functions; rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.transient.execution_id IS 'The NoETL execution the variable belongs to.';
COMMENT ON COLUMN noetl.transient.var_name IS 'Variable name, unique within the execution.';
COMMENT ON COLUMN noetl.transient.var_type IS 'user_defined, step_result (from a vars: block), computed or iterator_state.';
COMMENT ON COLUMN noetl.transient.var_value IS 'The value, any JSON; a JSON null is a real value.';
COMMENT ON COLUMN noetl.transient.source_step IS 'The step that wrote the variable, if any.';
COMMENT ON COLUMN noetl.transient.access_count IS 'Tracked reads (noetl.get_var, noetl.vars_get); kept when the value is overwritten.';
COMMENT ON COLUMN noetl.transient.created_at IS 'When the variable was first written; kept when it is overwritten.';
COMMENT ON COLUMN noetl.transient.accessed_at IS 'Last write or tracked read.';
COMMENT ON COLUMN noetl.transient.expires_at IS 'When the variable''s lifetime ends (NoETL''s column); NULL: it lasts as long as its execution.';
COMMENT ON COLUMN noetl.transient.scope IS 'NoETL''s lifecycle scope: execution for every variable the extension writes; step, workflow or permanent only from plain SQL.';
COMMENT ON INDEX noetl.idx_transient_source IS 'Variables by the step that wrote them.';
COMMENT ON INDEX noetl.idx_transient_type IS 'Variables by type.';
COMMENT ON INDEX noetl.idx_transient_execution IS 'The primary key (execution_id, var_name); named as NoETL''s index on execution_id.';
COMMENT ON INDEX noetl.idx_transient_expires IS 'Variables with a lifetime, by when it ends.';
COMMENT ON CONSTRAINT transient_type_check ON noetl.transient IS 'The four variable types.';

COMMENT ON TABLE noetl.applied_events IS
    'Events applied at most once: a call of render_vars, render_iteration or apply_set with an event_id records it with its result; a later call with the id returns that result and writes nothing. Removed with the execution. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.applied_events.execution_id IS 'The execution the event belongs to.';
COMMENT ON COLUMN noetl.applied_events.event_id IS 'The caller''s id of the event (one delivery of it or many).';
COMMENT ON COLUMN noetl.applied_events.function IS 'The function that applied it: render_vars, render_iteration or apply_set.';
COMMENT ON COLUMN noetl.applied_events.step IS 'The step it was applied for.';
COMMENT ON COLUMN noetl.applied_events.block_md5 IS 'What identifies the block it applied: the phase or the iteration, then the md5 of the block''s jsonb. The same id with another block is refused.';
COMMENT ON COLUMN noetl.applied_events.result IS 'What the first call returned, returned again to every later call with the id.';
COMMENT ON COLUMN noetl.applied_events.applied_at IS 'When it was applied.';
COMMENT ON FUNCTION noetl.set_var(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.interval) IS
    'Creates or overwrites one variable; ttl gives it a lifetime from now (expires_at). An overwrite keeps created_at, access_count and, without ttl, the lifetime. Errors: 22004 NULL argument, 22023 empty name or invalid var_type, 42622 name over 1024 bytes, 54000 value over noetl_vars.max_value_bytes, 22023 ttl not a positive interval of at most 100 years.';
COMMENT ON FUNCTION noetl.get_var(pg_catalog.int8, pg_catalog.text) IS
    'The value of one variable, or NULL when it does not exist. A tracked read: access_count + 1, accessed_at = now(); uncounted on a hot standby or in a read-only transaction.';
COMMENT ON FUNCTION noetl.get_all_vars(pg_catalog.int8) IS
    'Every variable of an execution as {name: value}; {} when there is none. Not a tracked read.';
COMMENT ON FUNCTION noetl.set_vars(pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.interval) IS
    'Creates or overwrites every member of a JSON object in one statement, all or nothing; ttl gives each a lifetime from now. Returns the POST /api/vars/{id} body {"execution_id", "variables_set", "var_names"}.';
COMMENT ON FUNCTION noetl.delete_var(pg_catalog.int8, pg_catalog.text) IS
    'Deletes one variable; true when it existed.';
COMMENT ON FUNCTION noetl.cleanup_execution(pg_catalog.int8) IS
    'Deletes every variable of an execution; returns how many there were.';
COMMENT ON FUNCTION noetl.vars_list(pg_catalog.int8) IS
    'The GET /api/vars/{id} body: {"execution_id", "variables": {name: {value, type, source_step, created_at, accessed_at, access_count}}, "count"}. Not a tracked read.';
COMMENT ON FUNCTION noetl.vars_get(pg_catalog.int8, pg_catalog.text) IS
    'The GET /api/vars/{id}/{name} body, or NULL when the variable does not exist (the server answers 404). A tracked read; uncounted on a hot standby or in a read-only transaction.';
COMMENT ON FUNCTION noetl.vars_delete(pg_catalog.int8, pg_catalog.text) IS
    'The DELETE /api/vars/{id}/{name} body: {"execution_id", "var_name", "deleted"}.';
COMMENT ON FUNCTION noetl.vars_cleanup(pg_catalog.int8) IS
    'The DELETE /api/vars/{id} body: {"execution_id", "deleted_count"}.';
COMMENT ON FUNCTION noetl.render_vars(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text, pg_catalog.interval, pg_catalog.text) IS
    'Renders a step''s vars: block (config) against its result and context, stores every variable as step_result with source_step = step, and returns {name: value} of what it stored. A variable lives for its $ttl in the block, else for ttl, else as long as its execution. With event_id the call applies at most once per (execution, id); later calls return the first result. All or nothing unless noetl_vars.on_render_error = skip.';
COMMENT ON FUNCTION noetl.render_iteration(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.int4, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.interval, pg_catalog.text) IS
    'Records one iteration of a looping step ({step}_index, {step}_item, {step}_total, {step}_count as iterator_state) and applies its vars: block with item in the context. ttl is the lifetime of everything it stores, unless the block''s $ttl gives a variable its own. With event_id it applies at most once per (execution, id). Returns everything it stored.';
COMMENT ON FUNCTION noetl.apply_set(pg_catalog.int8, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.int4, pg_catalog.text, pg_catalog.interval, pg_catalog.text) IS
    'Applies one set: block (a step''s or an arc''s): ctx.x or x writes execution variable x (step_result, source_step = step), step.x the step''s own scope, iter.x iteration `iteration`''s, workflow.x playbook `playbook`''s, global.x the global scope. Templates see ctx (= vars), step, iter (over context.iter), workflow, global and every key of context. Execution variables live for their $ttl in the block, else for ttl (other scopes have no lifetime). With event_id the block applies at most once per (execution, id); later calls return the first result. All or nothing; returns {"ctx": {…}, "step": {…}, …} of the scopes written. Errors: 22023 unknown scope prefix, bad ttl or $ttl, event_id empty, over 1024 bytes or used by another call, empty name, iter. without iteration, workflow. without playbook.';
COMMENT ON FUNCTION noetl.resume_execution(pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text) IS
    'Writes an execution''s predefined variables again when it resumes (user_defined, source_step resume). Where the execution holds a runtime value of the same name that differs, keep => predefined (the default) overwrites it with a WARNING naming it, keep => runtime leaves it. All or nothing; returns {"written": [names, sorted], "conflicts": {name: {"runtime", "predefined"}}, "keep"}. Errors: 22004 NULL argument, 22023 predefined not an object or keep another word.';
COMMENT ON FUNCTION noetl.context_vars(pg_catalog.int8, pg_catalog.text, pg_catalog.int4, pg_catalog.text) IS
    'Every scope a step''s templates see, in one read: {"ctx", "step", "iter", "workflow", "global"}; step, iter and workflow are {} when their argument is NULL. Not a tracked read.';
COMMENT ON FUNCTION noetl.finish_step(pg_catalog.int8, pg_catalog.text) IS
    'Removes a finished step''s step- and iteration-scoped values; returns how many it removed. Waits for every other call of the execution.';
COMMENT ON TABLE noetl.step_vars IS
    'Step-scoped (iteration NULL) and iteration-scoped values written by noetl.apply_set (step.x, iter.x); removed by noetl.finish_step. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.step_vars.execution_id IS 'The NoETL execution.';
COMMENT ON COLUMN noetl.step_vars.step IS 'The step whose scope the value belongs to.';
COMMENT ON COLUMN noetl.step_vars.iteration IS 'The loop iteration (its index) for iter.x; NULL for the step''s own step.x.';
COMMENT ON COLUMN noetl.step_vars.var_name IS 'Variable name, unique within the step or iteration.';
COMMENT ON COLUMN noetl.step_vars.var_value IS 'The value, any JSON.';
COMMENT ON COLUMN noetl.step_vars.created_at IS 'When the value was first written.';
COMMENT ON COLUMN noetl.step_vars.updated_at IS 'When the value was last written.';
COMMENT ON CONSTRAINT step_vars_key ON noetl.step_vars IS 'One value per (execution, step, iteration, name); a NULL iteration (the step''s own scope) counts as one key.';
COMMENT ON TABLE noetl.workflow_vars IS
    'Values shared by every execution of one playbook (workflow.x of noetl.apply_set), keyed by the playbook''s catalog path. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.workflow_vars.playbook IS 'The playbook''s catalog path.';
COMMENT ON COLUMN noetl.workflow_vars.var_name IS 'Variable name, unique within the playbook.';
COMMENT ON COLUMN noetl.workflow_vars.var_value IS 'The value, any JSON.';
COMMENT ON COLUMN noetl.workflow_vars.execution_id IS 'The execution that last wrote the value.';
COMMENT ON COLUMN noetl.workflow_vars.created_at IS 'When the value was first written.';
COMMENT ON COLUMN noetl.workflow_vars.updated_at IS 'When the value was last written.';
COMMENT ON TABLE noetl.global_vars IS
    'Values shared by every execution (global.x of noetl.apply_set). Grant SELECT alone to roles that may read them but not write them. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.global_vars.var_name IS 'Variable name, unique.';
COMMENT ON COLUMN noetl.global_vars.var_value IS 'The value, any JSON.';
COMMENT ON COLUMN noetl.global_vars.execution_id IS 'The execution that last wrote the value.';
COMMENT ON COLUMN noetl.global_vars.created_at IS 'When the value was first written.';
COMMENT ON COLUMN noetl.global_vars.updated_at IS 'When the value was last written.';

COMMENT ON TABLE noetl.transient_history IS
    'Every write and delete of a variable while noetl_vars.track_history is on, recorded in the writing transaction. Read it with noetl.var_at().';
COMMENT ON COLUMN noetl.transient_history.operation IS 'insert, update or delete.';
COMMENT ON COLUMN noetl.transient_history.old_value IS 'The value before the change; NULL for an insert.';
COMMENT ON COLUMN noetl.transient_history.new_value IS 'The value after the change; NULL for a delete.';
COMMENT ON COLUMN noetl.transient_history.changed_at IS 'clock_timestamp() of the change.';
COMMENT ON INDEX noetl.idx_transient_history_lookup IS 'History of one variable in time order.';
COMMENT ON VIEW noetl.executions IS
    'One row per execution with variables: how many, their total size, first and last write, last read, tracked reads and the most-read variables.';
COMMENT ON FUNCTION noetl.var_at(pg_catalog.int8, pg_catalog.text, pg_catalog.timestamptz) IS
    'The value a variable had at a point in time, from noetl.transient_history (decrypted when it was stored encrypted); NULL when it did not exist then, was deleted, or history was off.';
COMMENT ON FUNCTION noetl.purge_stale(pg_catalog.interval, pg_catalog.int4) IS
    'Deletes the variables of executions untouched (no write, no tracked read) for longer than older_than, at most max_executions per call, oldest first; skips executions in use. Returns one row per execution removed. Schedule it with pg_cron.';
COMMENT ON FUNCTION noetl.purge_execution(pg_catalog.int8, pg_catalog.interval) IS
    'Deletes one execution''s variables (and its applied event ids) if none was written or read (tracked) for longer than older_than and no call is using it (never waited for); one row, how many and their last activity, when it did. What purge_stale does to each execution; on Citus, distribute it with force_delegation (docs/scale-out.md).';
COMMENT ON FUNCTION noetl.purge_expired(pg_catalog.int4) IS
    'Deletes up to batch variables whose lifetime (expires_at) has ended, those that ended first first, skipping rows another transaction holds; returns how many it deleted. Schedule it with pg_cron.';
COMMENT ON FUNCTION noetl.adopt_transient(pg_catalog.regclass) IS
    'Moves every row of a legacy noetl.transient (created by the NoETL server''s DDL and moved aside before CREATE EXTENSION) into the extension''s table, all or nothing; returns the number of rows. The legacy table is left in place.';
COMMENT ON FUNCTION noetl.capture_changes() IS
    'Whether noetl_vars.track_history or noetl_vars.notify is on; the WHEN clause of the change triggers.';
COMMENT ON FUNCTION noetl.transient_changed() IS
    'Trigger function of noetl.transient only (it refuses any other table): appends history (noetl_vars.track_history) and collects changes for NOTIFY noetl_vars (noetl_vars.notify).';
COMMENT ON TRIGGER transient_changed_insert ON noetl.transient IS 'Change capture for inserts, when enabled.';
COMMENT ON TRIGGER transient_changed_update ON noetl.transient IS 'Change capture for updates that change a value, type, source step or key (not tracked reads), when enabled.';
COMMENT ON TRIGGER transient_changed_delete ON noetl.transient IS 'Change capture for deletes, when enabled.';
