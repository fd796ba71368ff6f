-- noetl_vars: typed variables (docs/typed-variables.md). A declaration gives a variable name a
-- JSON Schema (draft 2020-12) for one execution, for the executions of one playbook, or for
-- all; every write path checks the value against the most specific one. `sensitive` is stored
-- for encryption at rest.

CREATE TABLE noetl.declarations (
    declaration_id pg_catalog.int8        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    var_name       pg_catalog.text        NOT NULL,
    execution_id   pg_catalog.int8,
    playbook       pg_catalog.text,
    schema         pg_catalog.jsonb,
    sensitive      pg_catalog.bool        NOT NULL DEFAULT false,
    declared_at    pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    declared_by    pg_catalog.name        NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT declarations_one_scope CHECK (execution_id IS NULL OR playbook IS NULL),
    CONSTRAINT declarations_key UNIQUE NULLS NOT DISTINCT (var_name, execution_id, playbook)
);

SELECT pg_catalog.pg_extension_config_dump('noetl.declarations', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.declarations_declaration_id_seq', '');

-- Every session keeps the declarations it has used; a change tells every session to read
-- them again (a relation cache invalidation of noetl.declarations, sent at commit).
CREATE FUNCTION noetl.declarations_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'declarations_changed_wrapper';

CREATE TRIGGER declarations_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON noetl.declarations
    FOR EACH STATEMENT EXECUTE FUNCTION noetl.declarations_changed();

-- Plain SQL writes of the other scopes' values are checked too (the change trigger of
-- noetl.transient checks its own); the extension's functions check before they write.
CREATE FUNCTION noetl.scoped_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'scoped_changed_wrapper';

CREATE TRIGGER step_vars_declared
    AFTER INSERT OR UPDATE ON noetl.step_vars
    FOR EACH ROW WHEN (noetl.check_declared())
    EXECUTE FUNCTION noetl.scoped_changed();
CREATE TRIGGER workflow_vars_declared
    AFTER INSERT OR UPDATE ON noetl.workflow_vars
    FOR EACH ROW WHEN (noetl.check_declared())
    EXECUTE FUNCTION noetl.scoped_changed();
CREATE TRIGGER global_vars_declared
    AFTER INSERT OR UPDATE ON noetl.global_vars
    FOR EACH ROW WHEN (noetl.check_declared())
    EXECUTE FUNCTION noetl.scoped_changed();

-- Declares (or changes the declaration of) a variable name: for one execution, for the
-- executions of a playbook, or for all of them (both NULL).
CREATE FUNCTION noetl.declare_var(
    var_name pg_catalog.text,
    schema pg_catalog.jsonb DEFAULT NULL,
    sensitive pg_catalog.bool DEFAULT false,
    execution_id pg_catalog.int8 DEFAULT NULL,
    playbook pg_catalog.text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    IF var_name IS NULL OR sensitive IS NULL THEN
        RAISE EXCEPTION 'var_name and sensitive must not be NULL'
            USING ERRCODE = '22004';
    END IF;
    IF execution_id IS NOT NULL AND playbook IS NOT NULL THEN
        RAISE EXCEPTION 'a declaration is for one execution or for a playbook''s executions, not both'
            USING ERRCODE = '22023';
    END IF;
    PERFORM noetl.check_schema(declare_var.schema);
    INSERT INTO noetl.declarations AS d (var_name, execution_id, playbook, schema, sensitive)
    VALUES (declare_var.var_name, declare_var.execution_id, declare_var.playbook, declare_var.schema, declare_var.sensitive)
    ON CONFLICT ON CONSTRAINT declarations_key DO UPDATE
        SET schema = EXCLUDED.schema, sensitive = EXCLUDED.sensitive,
            declared_at = EXCLUDED.declared_at, declared_by = EXCLUDED.declared_by;
END
$body$;

-- Drops a declaration; true when there was one.
CREATE FUNCTION noetl.undeclare_var(
    var_name pg_catalog.text,
    execution_id pg_catalog.int8 DEFAULT NULL,
    playbook pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    DELETE FROM noetl.declarations d
    WHERE d.var_name OPERATOR(pg_catalog.=) undeclare_var.var_name
      AND d.execution_id IS NOT DISTINCT FROM undeclare_var.execution_id
      AND d.playbook IS NOT DISTINCT FROM undeclare_var.playbook;
    RETURN FOUND;
END
$body$;

-- Every declaration, for operators.
CREATE VIEW noetl.declared_vars AS
SELECT d.var_name,
       CASE WHEN d.execution_id IS NOT NULL THEN 'execution'
            WHEN d.playbook IS NOT NULL THEN 'playbook'
            ELSE 'all' END AS applies_to,
       d.execution_id, d.playbook, d.schema, d.sensitive, d.declared_at, d.declared_by
FROM noetl.declarations d;

REVOKE ALL ON TABLE noetl.declarations, noetl.declared_vars FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    noetl.declare_var(pg_catalog.text, pg_catalog.jsonb, pg_catalog.bool, pg_catalog.int8, pg_catalog.text),
    noetl.undeclare_var(pg_catalog.text, pg_catalog.int8, pg_catalog.text),
    noetl.declarations_changed(),
    noetl.scoped_changed(),
    noetl.check_schema(pg_catalog.jsonb)
FROM PUBLIC;

COMMENT ON TABLE noetl.declarations IS
    'Typed variables: a JSON Schema (and the sensitive flag) per variable name, for one execution, a playbook''s executions, or all. Written by noetl.declare_var and noetl.undeclare_var; rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.declarations.declaration_id IS 'The declaration''s id.';
COMMENT ON COLUMN noetl.declarations.var_name IS 'The variable name declared (in every scope: ctx, step, iter, workflow, global).';
COMMENT ON COLUMN noetl.declarations.execution_id IS 'The execution it is for; NULL with playbook NULL: every execution.';
COMMENT ON COLUMN noetl.declarations.playbook IS 'The playbook (catalog path) whose executions it is for.';
COMMENT ON COLUMN noetl.declarations.schema IS 'The JSON Schema (draft 2020-12) every value must match; NULL: any value.';
COMMENT ON COLUMN noetl.declarations.sensitive IS 'Whether values are sensitive (encryption at rest).';
COMMENT ON COLUMN noetl.declarations.declared_at IS 'When it was declared or last changed.';
COMMENT ON COLUMN noetl.declarations.declared_by IS 'The session user who declared or last changed it.';
COMMENT ON CONSTRAINT declarations_one_scope ON noetl.declarations IS 'One execution or one playbook, not both.';
COMMENT ON CONSTRAINT declarations_key ON noetl.declarations IS 'One declaration per name and scope.';
COMMENT ON FUNCTION noetl.declarations_changed() IS
    'Trigger of noetl.declarations: every session reads the declarations again after a change commits.';
COMMENT ON TRIGGER declarations_changed ON noetl.declarations IS 'Tells every session the declarations changed.';
COMMENT ON FUNCTION noetl.scoped_changed() IS
    'Trigger of noetl.step_vars, noetl.workflow_vars and noetl.global_vars: checks what plain SQL writes against the declarations.';
COMMENT ON TRIGGER step_vars_declared ON noetl.step_vars IS 'Checks plain SQL writes against the declarations.';
COMMENT ON TRIGGER workflow_vars_declared ON noetl.workflow_vars IS 'Checks plain SQL writes against the declarations.';
COMMENT ON TRIGGER global_vars_declared ON noetl.global_vars IS 'Checks plain SQL writes against the declarations.';
COMMENT ON FUNCTION noetl.declare_var(pg_catalog.text, pg_catalog.jsonb, pg_catalog.bool, pg_catalog.int8, pg_catalog.text) IS
    'Declares a variable name with a JSON Schema (draft 2020-12) and the sensitive flag, for one execution, a playbook''s executions, or all; declaring again changes it. An invalid schema is 22023 naming the keyword.';
COMMENT ON FUNCTION noetl.undeclare_var(pg_catalog.text, pg_catalog.int8, pg_catalog.text) IS
    'Drops the declaration of a variable name for that execution, playbook or all; true when there was one.';
COMMENT ON FUNCTION noetl.check_schema(pg_catalog.jsonb) IS
    'Refuses (22023, naming the keyword) a schema that is not a valid JSON Schema draft 2020-12 the extension can use; what declare_var checks.';
COMMENT ON FUNCTION noetl.check_declared() IS
    'The WHEN of the scoped tables'' triggers: something is declared and the write is plain SQL (the extension checks its own before writing).';
COMMENT ON VIEW noetl.declared_vars IS
    'Every declaration: name, what it applies to (execution, playbook or all), schema, sensitive, when and by whom.';
