-- Installing into a database where schema noetl already exists. CREATE EXTENSION refuses a
-- schema another role owns or may create objects in; and every object of the extension is
-- built from fully qualified names, so look-alike functions in schema noetl are never called,
-- by a fresh install or by an update from an earlier version.
-- Errors raised by the extension's scripts are shown without their CONTEXT: PostgreSQL 18 adds
-- the script's text to it, earlier majors only the line that raised.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP DATABASE IF EXISTS noetl_vars_install;
CREATE DATABASE noetl_vars_install;
\c noetl_vars_install
SET client_min_messages = warning;
DROP ROLE IF EXISTS noetl_vars_owner;
CREATE ROLE noetl_vars_owner;
RESET client_min_messages;

-- Owned by another role (the NoETL server's, typically): refused, nothing created.
CREATE SCHEMA noetl AUTHORIZATION noetl_vars_owner;
\set VERBOSITY default
CREATE EXTENSION noetl_vars;
SELECT count(*) AS extension_objects FROM pg_class WHERE relnamespace = 'noetl'::regnamespace;
-- Earlier versions installed into such a schema; updating them to 0.6.0 is refused the same
-- way (the owner could replace the extension's functions with its own).
CREATE EXTENSION noetl_vars VERSION '0.2.0';
ALTER EXTENSION noetl_vars UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'noetl_vars';
DROP EXTENSION noetl_vars;
-- Owned by the installer, but another role may create objects in it: refused too.
ALTER SCHEMA noetl OWNER TO CURRENT_USER;
GRANT CREATE ON SCHEMA noetl TO noetl_vars_owner;
CREATE EXTENSION noetl_vars;
REVOKE CREATE ON SCHEMA noetl FROM noetl_vars_owner;

-- Look-alikes more specific than pg_catalog's, which an unqualified call would pick.
CREATE TABLE public.planted_calls (what text);
CREATE FUNCTION noetl.pg_column_size(jsonb) RETURNS integer LANGUAGE sql
    AS $$ INSERT INTO public.planted_calls VALUES ('pg_column_size') RETURNING 1 $$;
CREATE FUNCTION noetl.planted_agg(text[], text) RETURNS text[] LANGUAGE sql
    AS $$ INSERT INTO public.planted_calls VALUES ('array_agg') RETURNING $1 || $2 $$;
CREATE AGGREGATE noetl.array_agg(text) (SFUNC = noetl.planted_agg, STYPE = text[]);
CREATE FUNCTION noetl.format(text, text) RETURNS text LANGUAGE sql
    AS $$ INSERT INTO public.planted_calls VALUES ('format') RETURNING $1 $$;

-- A fresh install, then every object that computes something is used.
CREATE EXTENSION noetl_vars;
SET noetl_vars.track_history = on;
SELECT noetl.set_vars(1, '{"a": 1, "b": [2]}'), noetl.get_var(1, 'a');
SELECT noetl.render_vars(1, 's', '{}', '{"c": "{{ vars.a + 1 }}"}');
SELECT execution_id, variables, value_bytes > 0 AS sized, reads, most_read FROM noetl.executions;
SELECT noetl.var_at(1, 'c', now()) AS c_at_now;
SELECT count(*) AS planted_calls_by_a_fresh_install FROM public.planted_calls;
DROP EXTENSION noetl_vars;

-- Updates from every earlier version, with the look-alikes in place all along.
CREATE EXTENSION noetl_vars VERSION '0.1.0';
SELECT noetl.set_vars(2, '{"a": 1}');
ALTER EXTENSION noetl_vars UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'noetl_vars';
SELECT noetl.get_var(2, 'a');
SELECT execution_id, variables, value_bytes > 0 AS sized, most_read FROM noetl.executions;
SELECT noetl.var_at(2, 'a', now()) AS a_at_now;
SELECT count(*) AS planted_calls_by_updates FROM public.planted_calls;

\c noetl_vars_regress
SET client_min_messages = warning;
DROP DATABASE noetl_vars_install;
DROP ROLE noetl_vars_owner;
