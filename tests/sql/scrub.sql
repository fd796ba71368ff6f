-- Scrubbing credentials before they are stored (noetl_vars.scrub_secrets, a superuser setting,
-- off by default): every write path stores "[REDACTED]" where the API bodies would show it,
-- and says which variables it scrubbed.
\ir helpers.psql

-- Off by default: stored as given.
SHOW noetl_vars.scrub_secrets;
SELECT noetl.set_var(650, 'auth', '"Bearer s3cr3t"');
SELECT var_value AS stored_in_clear FROM noetl.transient WHERE execution_id = 650 AND var_name = 'auth';

SET noetl_vars.scrub_secrets = on;
SET noetl_vars.track_history = on;

-- set_var: the value, and a NOTICE naming it.
SELECT noetl.set_var(650, 'auth', '"Bearer s3cr3t"');
SELECT noetl.set_var(650, 'api_token', '"abc"');
SELECT noetl.set_var(650, 'plain', '{"n": 1, "note": "no secret"}');

-- set_vars: nested credentials, and "scrubbed" in the body.
SELECT noetl.set_vars(650, '{"response": {"headers": {"Authorization": "Basic dXNlcjpwYXNz"}, "rows": 3},
    "key": "AIzaSyA1b2C3d4E5f6G7SyA1b2C3d4E5f6G7h8I", "count": 2}');

-- render_vars and render_iteration: what they return is what they store.
SELECT noetl.render_vars(650, 's', '{"token": "ghp_abcdefghijabcdefghijabcdefghijabcdef"}',
    '{"gh": "{{ result.token }}", "size": "{{ result.token | length }}"}') AS render_vars;
SELECT noetl.render_iteration(650, 'loop', '{"url": "https://x.test/cb?access_token=t0k3n"}', 0, 1, '{}',
    '{"seen": "{{ item.url }}"}') AS render_iteration;

-- apply_set: every scope.
SELECT noetl.apply_set(650, 's', '{"ctx.c": "xoxb-1234567890-abcdefghij", "step.s": "sk-ant-api03-abcdefghijklmnopqrstu", "ctx.ok": 1}') AS apply_set;
SELECT var_value AS step_scope_stored FROM noetl.step_vars WHERE execution_id = 650 AND var_name = 's';

-- resume_execution: "scrubbed" in the body.
SELECT noetl.resume_execution(650, '{"db_password": "hunter2", "region": "eu"}', keep => 'runtime') AS resume;

-- What the table, the history and the value functions hold: no secret anywhere.
SELECT var_name, var_value FROM noetl.transient WHERE execution_id = 650 ORDER BY var_name;
SELECT count(*) AS history_rows_with_a_secret FROM noetl.transient_history
WHERE execution_id = 650 AND (new_value::text ~ 's3cr3t|dXNlcjpw|ghp_|t0k3n|xoxb-|sk-ant|hunter2|AIza'
                              OR old_value::text ~ 'dXNlcjpw|ghp_|t0k3n|xoxb-|sk-ant|hunter2|AIza');
SELECT noetl.get_var(650, 'auth') AS get_var_sees_the_scrubbed_value;

-- Only a superuser may change it.
CREATE ROLE noetl_vars_scrubber NOLOGIN;
SET ROLE noetl_vars_scrubber;
SELECT pg_temp.try($$SET noetl_vars.scrub_secrets = off$$) AS app_role_cannot_turn_it_off;
RESET ROLE;
DROP ROLE noetl_vars_scrubber;

RESET noetl_vars.track_history;
RESET noetl_vars.scrub_secrets;
SELECT noetl.cleanup_execution(650);
DELETE FROM noetl.step_vars WHERE execution_id = 650;
DELETE FROM noetl.transient_history WHERE execution_id = 650;
