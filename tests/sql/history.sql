-- History (noetl_vars.track_history): every write and delete, in the writing transaction.
\ir helpers.psql

-- Off by default: nothing is recorded.
SHOW noetl_vars.track_history;
SELECT noetl.set_var(700, 'x', '1');
SELECT count(*) AS recorded_while_off FROM noetl.transient_history WHERE execution_id = 700;

SET noetl_vars.track_history = on;
SELECT noetl.set_var(700, 'x', '2');
SELECT noetl.get_var(700, 'x');                       -- a tracked read: not a write
SELECT noetl.render_vars(700, 'calc', '{}', '{"y": "{{ vars.x * 10 }}"}');
SELECT noetl.set_vars(700, '{"y": 21, "z": [1]}', 'computed', 'api');
SELECT noetl.delete_var(700, 'x');
BEGIN;
SELECT noetl.set_var(700, 'rolled_back', '1');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT noetl.set_var(700, 'savepoint_rolled_back', '1');
ROLLBACK TO s;
SELECT noetl.set_var(700, 'kept', '1');
COMMIT;
-- Writes made with plain SQL are captured too.
UPDATE noetl.transient SET var_value = '"by hand"' WHERE execution_id = 700 AND var_name = 'z';
SELECT noetl.cleanup_execution(700);
SELECT var_name, operation, old_value, new_value, var_type, source_step
FROM noetl.transient_history WHERE execution_id = 700 ORDER BY id;

-- What was v at time T?
CREATE TEMP TABLE marks (label text, at timestamptz);
INSERT INTO marks VALUES ('before anything', clock_timestamp());
SELECT noetl.set_var(701, 'v', '"first"');
INSERT INTO marks VALUES ('after the first write', clock_timestamp());
SELECT noetl.render_vars(701, 's', '{}', '{"v": "second"}');
INSERT INTO marks VALUES ('after the second write', clock_timestamp());
SELECT noetl.delete_var(701, 'v');
INSERT INTO marks VALUES ('after the delete', clock_timestamp());
SELECT label, noetl.var_at(701, 'v', at) AS v FROM marks ORDER BY at;
SELECT noetl.var_at(701, 'never', now()) IS NULL AS unknown_is_null;
RESET noetl_vars.track_history;

-- Only a superuser may change it (an application cannot switch its own audit off).
SELECT setting, context FROM pg_settings WHERE name = 'noetl_vars.track_history';
DELETE FROM noetl.transient_history WHERE execution_id IN (700, 701);
