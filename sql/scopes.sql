-- noetl_vars: the scopes of NoETL's set: blocks beyond the execution's variables (docs/set-blocks.md).
-- Each scope has a table of its own so that privileges tell them apart: an application role
-- may read global variables without being able to write them.

-- A step's own values (iteration NULL) and each iteration's, removed by noetl.finish_step.
-- NULLS NOT DISTINCT (PostgreSQL 15): a step's own value is one row per name like any other.
CREATE TABLE noetl.step_vars (
    execution_id pg_catalog.int8        NOT NULL,
    step         pg_catalog.text        NOT NULL,
    iteration    pg_catalog.int4,
    var_name     pg_catalog.text        NOT NULL,
    var_value    pg_catalog.jsonb       NOT NULL,
    created_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT step_vars_key UNIQUE NULLS NOT DISTINCT (execution_id, step, iteration, var_name)
);

-- Values shared by every execution of one playbook (its catalog path).
CREATE TABLE noetl.workflow_vars (
    playbook     pg_catalog.text        NOT NULL,
    var_name     pg_catalog.text        NOT NULL,
    var_value    pg_catalog.jsonb       NOT NULL,
    execution_id pg_catalog.int8,
    created_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (playbook, var_name)
);

-- Values shared by every execution.
CREATE TABLE noetl.global_vars (
    var_name     pg_catalog.text        NOT NULL PRIMARY KEY,
    var_value    pg_catalog.jsonb       NOT NULL,
    execution_id pg_catalog.int8,
    created_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);

SELECT pg_catalog.pg_extension_config_dump('noetl.step_vars', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.workflow_vars', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.global_vars', '');

REVOKE ALL ON TABLE noetl.step_vars, noetl.workflow_vars, noetl.global_vars FROM PUBLIC;
