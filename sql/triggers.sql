-- noetl_vars: change capture on noetl.transient, for history and change events. The WHEN
-- clauses keep the triggers from firing while both features are off, and leave out tracked
-- reads (which only move access_count and accessed_at).

CREATE TRIGGER transient_changed_insert
    AFTER INSERT ON noetl.transient
    FOR EACH ROW WHEN (noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();

CREATE TRIGGER transient_changed_update
    AFTER UPDATE ON noetl.transient
    FOR EACH ROW WHEN (OLD.access_count IS NOT DISTINCT FROM NEW.access_count AND noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();

CREATE TRIGGER transient_changed_delete
    AFTER DELETE ON noetl.transient
    FOR EACH ROW WHEN (noetl.capture_changes())
    EXECUTE FUNCTION noetl.transient_changed();
