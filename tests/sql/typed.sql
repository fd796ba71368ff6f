-- Typed variables: declarations with a JSON Schema, checked on every write path; a violation
-- is 23514 naming the variable, execution, keyword and instance path, never the value, and
-- stores nothing of the call (docs/typed-variables.md).
\ir helpers.psql

SELECT noetl.declare_var('tv_count', '{"type": "integer", "minimum": 0}');
SELECT noetl.declare_var('tv_cfg', '{"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}',
                         execution_id => 950);
-- The more specific declaration wins: execution, then playbook, then all.
SELECT noetl.declare_var('tv_mode', '{"enum": ["a", "b"]}');
SELECT noetl.declare_var('tv_mode', '{"enum": ["p"]}', playbook => 'catalog/typed');
SELECT noetl.declare_var('tv_mode', '{"enum": ["e"]}', execution_id => 951);
-- No schema: only the sensitive flag (kept for encryption at rest).
SELECT noetl.declare_var('tv_secret', sensitive => true);
SELECT var_name, applies_to, execution_id, playbook, schema, sensitive FROM noetl.declared_vars ORDER BY 1, 2, 3, 4;

-- Values that match are stored.
SELECT noetl.set_var(950, 'tv_count', '3');
SELECT noetl.set_vars(950, '{"tv_count": 4, "tv_cfg": {"url": "https://x"}, "tv_mode": "a"}');
SELECT noetl.set_vars(951, '{"tv_mode": "e", "tv_secret": "anything", "tv_cfg": {"no": "url"}}');

-- Each write path refuses a value that does not match, and stores nothing of the call.
SELECT pg_temp.try($$SELECT noetl.set_var(950, 'tv_count', '"12"')$$);
SELECT pg_temp.try($$SELECT noetl.set_vars(950, '{"tv_count": 5, "tv_cfg": {"uri": "s3cr3t-value"}}')$$);
SELECT pg_temp.try($$SELECT noetl.set_vars(951, '{"tv_mode": "a"}')$$);
SELECT pg_temp.try($$SELECT noetl.render_vars(950, 's', '{"n": -1}', '{"tv_count": "{{ result.n }}"}')$$);
SELECT pg_temp.try($$SELECT noetl.render_iteration(950, 'loop', '{"n": 1.5}', 0, 2, '{}', '{"tv_count": "{{ item.n }}"}')$$);
SELECT pg_temp.try($$SELECT noetl.apply_set(950, 's', '{"ctx.tv_count": -5, "ctx.other": 1}')$$);
SELECT pg_temp.try($$SELECT noetl.apply_set(950, 's', '{"step.tv_count": "x"}')$$);
SELECT pg_temp.try($$SELECT noetl.apply_set(950, 's', '{"iter.tv_count": "x"}', iteration => 1)$$);
SELECT pg_temp.try($$SELECT noetl.apply_set(952, 's', '{"workflow.tv_mode": "a"}', playbook => 'catalog/typed')$$);
SELECT pg_temp.try($$SELECT noetl.apply_set(952, 's', '{"global.tv_count": -1}')$$);
SELECT pg_temp.try($$SELECT noetl.resume_execution(950, '{"tv_count": "no"}')$$);
-- The playbook's declaration applies where the call names the playbook.
SELECT noetl.apply_set(952, 's', '{"ctx.tv_mode": "p", "workflow.tv_mode": "p"}', playbook => 'catalog/typed') AS playbook_scope;
SELECT pg_temp.try($$SELECT noetl.apply_set(952, 's', '{"ctx.tv_mode": "p"}')$$) AS without_the_playbook;

-- Plain SQL writes are checked by the tables' triggers.
SELECT pg_temp.try($$INSERT INTO noetl.transient (execution_id, var_name, var_value) VALUES (953, 'tv_count', '-3')$$);
SELECT pg_temp.try($$UPDATE noetl.transient SET var_value = '"str"' WHERE execution_id = 950 AND var_name = 'tv_count'$$);
SELECT pg_temp.try($$INSERT INTO noetl.step_vars (execution_id, step, var_name, var_value) VALUES (950, 's', 'tv_count', '1.5')$$);
SELECT pg_temp.try($$UPDATE noetl.workflow_vars SET var_value = '"a"' WHERE playbook = 'catalog/typed' AND var_name = 'tv_mode'$$);
SELECT pg_temp.try($$INSERT INTO noetl.global_vars (var_name, var_value) VALUES ('tv_count', '"g"')$$);
SELECT pg_temp.try($$INSERT INTO noetl.transient (execution_id, var_name, var_value) VALUES (953, 'tv_count', '8')$$) AS plain_sql_match;

-- Nothing of a refused call was stored.
SELECT execution_id, var_name, CASE WHEN var_value ? 'noetl_vars_sealed' THEN '"(encrypted)"' ELSE var_value END AS var_value
FROM noetl.transient WHERE execution_id BETWEEN 950 AND 953 ORDER BY 1, 2;
SELECT count(*) AS other_scopes FROM noetl.step_vars WHERE execution_id = 950;

-- In skip mode a violating step result is a render error like any other: left out, warned.
SET noetl_vars.on_render_error = 'skip';
SELECT noetl.render_vars(950, 's', '{"n": -1}', '{"tv_count": "{{ result.n }}", "tv_other": "kept"}') AS skipped;
RESET noetl_vars.on_render_error;

-- The full message: what, which execution, keyword and instance path, never the value.
SELECT noetl.set_vars(950, '{"tv_cfg": {"url": 42}}');

-- A bad schema is refused when declared (22023, naming the keyword).
SELECT pg_temp.try($$SELECT noetl.declare_var('tv_bad', '{"type": "integr"}')$$);
SELECT pg_temp.try($$SELECT noetl.declare_var('tv_bad', '{"properties": {"n": {"minimum": "zero"}}}')$$);
SELECT pg_temp.try($$SELECT noetl.declare_var('tv_bad', '{"$ref": "https://example.com/s.json"}')$$);
SELECT pg_temp.try($$SELECT noetl.declare_var('tv_bad', '{"pattern": "(unclosed"}')$$);
SELECT pg_temp.try($$SELECT noetl.declare_var('tv_bad', '{}', execution_id => 1, playbook => 'p')$$);
SELECT pg_temp.try($$SELECT noetl.declare_var(NULL, '{}')$$);
SELECT count(*) AS bad_declared FROM noetl.declarations WHERE var_name = 'tv_bad';

-- Changing a declaration applies to the next write.
SELECT noetl.declare_var('tv_count', '{"type": ["integer", "string"]}');
SELECT noetl.set_var(950, 'tv_count', '"now a string"');

-- Privileges: an application role writes values but cannot declare, drop or read declarations.
CREATE ROLE noetl_vars_typed_app NOLOGIN;
GRANT USAGE ON SCHEMA noetl TO noetl_vars_typed_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON noetl.transient TO noetl_vars_typed_app;
GRANT EXECUTE ON FUNCTION noetl.set_var(bigint, text, jsonb, text, text, interval) TO noetl_vars_typed_app;
SET ROLE noetl_vars_typed_app;
SELECT pg_temp.try($$SELECT noetl.set_var(954, 'tv_mode', '"z"')$$) AS checked_for_the_app;
SELECT pg_temp.try($$INSERT INTO noetl.transient (execution_id, var_name, var_value) VALUES (954, 'tv_mode', '"z"')$$) AS plain_sql_of_the_app;
-- COPY too (only pg_restore's, by a superuser or the owner, is not checked: see below).
COPY noetl.transient (execution_id, var_name, var_value) FROM STDIN;
954	tv_mode	"z"
\.
SELECT pg_temp.try($$SELECT noetl.declare_var('tv_mode', NULL)$$);
SELECT pg_temp.try($$SELECT noetl.undeclare_var('tv_mode')$$);
SELECT pg_temp.try($$DELETE FROM noetl.declarations$$);
SELECT pg_temp.try($$SELECT * FROM noetl.declared_vars$$);
RESET ROLE;
-- A superuser's (or the owner's) COPY loads rows as pg_restore does, unchecked: a dump may
-- hold values stored before their declaration.
COPY noetl.transient (execution_id, var_name, var_value) FROM STDIN;
955	tv_mode	"z"
\.
SELECT var_value AS loaded_by_copy FROM noetl.transient WHERE execution_id = 955;

-- Undeclared: anything goes again.
SELECT noetl.undeclare_var('tv_mode', playbook => 'catalog/typed'), noetl.undeclare_var('tv_mode', playbook => 'catalog/typed');
SELECT noetl.undeclare_var(d.var_name, d.execution_id, d.playbook) FROM noetl.declarations d ORDER BY d.declaration_id;
SELECT noetl.set_var(950, 'tv_count', '"anything"');
SELECT count(*) AS declarations_left FROM noetl.declarations;

SELECT noetl.cleanup_execution(e) FROM unnest(ARRAY[950, 951, 952, 953, 954, 955]) e;
DELETE FROM noetl.workflow_vars WHERE playbook = 'catalog/typed';
REVOKE ALL ON noetl.transient FROM noetl_vars_typed_app;
REVOKE ALL ON SCHEMA noetl FROM noetl_vars_typed_app;
REVOKE EXECUTE ON FUNCTION noetl.set_var(bigint, text, jsonb, text, text, interval) FROM noetl_vars_typed_app;
DROP ROLE noetl_vars_typed_app;
