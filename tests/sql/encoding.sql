-- In a database whose encoding is not UTF-8, history tells values apart by their bytes: two
-- LATIN1 strings that are both invalid UTF-8 are different values, so changing one into the
-- other while access_count moves is a change, not a tracked read.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS noetl_vars_latin1;
CREATE DATABASE noetl_vars_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
RESET client_min_messages;
\c noetl_vars_latin1
SET client_encoding = 'UTF8';
SET client_min_messages = warning;
CREATE EXTENSION noetl_vars;
RESET client_min_messages;
SET noetl_vars.track_history = on;
SELECT noetl.set_var(1, 'x', '"é"');
UPDATE noetl.transient SET var_value = '"è"', access_count = access_count + 1 WHERE execution_id = 1;
UPDATE noetl.transient SET access_count = access_count + 1 WHERE execution_id = 1;  -- a tracked read
SELECT operation, old_value, new_value FROM noetl.transient_history WHERE execution_id = 1 ORDER BY id;
\c postgres
DROP DATABASE noetl_vars_latin1;
