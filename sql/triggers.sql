-- noetl_vars: change capture on noetl.transient, for history and change events. The WHEN
-- clauses keep the triggers from firing while both features are off, and leave out tracked
-- reads: updates that move access_count (and accessed_at) and change nothing else. An update
-- that changes the value, type, source step or key is recorded whatever else it changes.

-- Written by hand in src/changes.rs (not through pgrx's trigger wrapper) so that it can
-- refuse to run as anything but a row trigger of noetl.transient.
CREATE FUNCTION noetl.transient_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'transient_changed_wrapper';

CREATE TRIGGER transient_changed_insert
    AFTER INSERT ON noetl.transient
    FOR EACH ROW WHEN (noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();

CREATE TRIGGER transient_changed_update
    AFTER UPDATE ON noetl.transient
    FOR EACH ROW WHEN (noetl.capture_changes()
                       AND (OLD.access_count OPERATOR(pg_catalog.=) NEW.access_count
                            -- as text: jsonb's = calls 1 and 1.000 equal, history must not
                            OR NOT (OLD.var_value::pg_catalog.text OPERATOR(pg_catalog.=) NEW.var_value::pg_catalog.text)
                            OR NOT (OLD.var_type OPERATOR(pg_catalog.=) NEW.var_type)
                            OR NOT COALESCE(OLD.source_step OPERATOR(pg_catalog.=) NEW.source_step,
                                            OLD.source_step IS NULL AND NEW.source_step IS NULL)
                            OR NOT (OLD.execution_id OPERATOR(pg_catalog.=) NEW.execution_id)
                            OR NOT (OLD.var_name OPERATOR(pg_catalog.=) NEW.var_name)))
    EXECUTE FUNCTION noetl.transient_changed();

CREATE TRIGGER transient_changed_delete
    AFTER DELETE ON noetl.transient
    FOR EACH ROW WHEN (noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();
