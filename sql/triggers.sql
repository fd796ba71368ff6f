-- noetl_vars: change capture on noetl.transient, for history and change events. The WHEN
-- clauses keep the triggers from firing while both features are off. The trigger function
-- leaves out tracked reads (updates that move access_count, and accessed_at, and change
-- nothing else); an update that changes the value, type, source step or key is recorded
-- whatever else it changes. That test is not a WHEN clause because PostgreSQL parses a
-- trigger's WHEN again in every statement that fires it: on every write, capture on or off.

-- Written by hand in src/capture/changes.rs (not through pgrx's trigger wrapper) so that it can
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
    FOR EACH ROW WHEN (noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();

CREATE TRIGGER transient_changed_delete
    AFTER DELETE ON noetl.transient
    FOR EACH ROW WHEN (noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();
