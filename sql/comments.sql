-- noetl_vars: documentation of every object, shown by \dx+, \d+ and \df+. Runs last.

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
COMMENT ON INDEX noetl.idx_transient_source IS 'Variables by the step that wrote them.';
COMMENT ON INDEX noetl.idx_transient_type IS 'Variables by type.';
COMMENT ON CONSTRAINT transient_type_check ON noetl.transient IS 'The four variable types.';

COMMENT ON FUNCTION noetl.set_var(bigint, text, jsonb, text, text) IS
    'Creates or overwrites one variable. An overwrite keeps created_at and access_count. Errors: 22004 NULL argument, 22023 empty name or invalid var_type, 42622 name over 1024 bytes, 54000 value over noetl_vars.max_value_bytes.';
COMMENT ON FUNCTION noetl.get_var(bigint, text) IS
    'The value of one variable, or NULL when it does not exist. A tracked read: access_count + 1, accessed_at = now().';
COMMENT ON FUNCTION noetl.get_all_vars(bigint) IS
    'Every variable of an execution as {name: value}; {} when there is none. Not a tracked read.';
COMMENT ON FUNCTION noetl.set_vars(bigint, jsonb, text, text) IS
    'Creates or overwrites every member of a JSON object in one statement, all or nothing. Returns the POST /api/vars/{id} body {"execution_id", "variables_set", "var_names"}.';
COMMENT ON FUNCTION noetl.delete_var(bigint, text) IS
    'Deletes one variable; true when it existed.';
COMMENT ON FUNCTION noetl.cleanup_execution(bigint) IS
    'Deletes every variable of an execution; returns how many there were.';
COMMENT ON FUNCTION noetl.vars_list(bigint) IS
    'The GET /api/vars/{id} body: {"execution_id", "variables": {name: {value, type, source_step, created_at, accessed_at, access_count}}, "count"}. Not a tracked read.';
COMMENT ON FUNCTION noetl.vars_get(bigint, text) IS
    'The GET /api/vars/{id}/{name} body, or NULL when the variable does not exist (the server answers 404). A tracked read.';
COMMENT ON FUNCTION noetl.vars_delete(bigint, text) IS
    'The DELETE /api/vars/{id}/{name} body: {"execution_id", "var_name", "deleted"}.';
COMMENT ON FUNCTION noetl.vars_cleanup(bigint) IS
    'The DELETE /api/vars/{id} body: {"execution_id", "deleted_count"}.';
COMMENT ON FUNCTION noetl.render_vars(bigint, text, jsonb, jsonb, jsonb, text) IS
    'Renders a step''s vars: block (config) against its result and context, stores every variable as step_result with source_step = step, and returns {name: value} of what it stored. All or nothing unless noetl_vars.on_render_error = skip.';
COMMENT ON FUNCTION noetl.render_iteration(bigint, text, jsonb, integer, integer, jsonb, jsonb, jsonb) IS
    'Records one iteration of a looping step ({step}_index, {step}_item, {step}_total, {step}_count as iterator_state) and applies its vars: block with item in the context. Returns everything it stored.';
