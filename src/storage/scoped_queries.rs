//! The statements of the `set:` scopes beyond the execution's variables (docs/set-blocks.md): a step's
//! and an iteration's values (`noetl.step_vars`, `iteration` NULL for the step's own), a
//! playbook's (`noetl.workflow_vars`) and the global ones (`noetl.global_vars`). As in
//! [`crate::storage::queries`], every name is schema-qualified and every value a bound parameter;
//! reads of named values are one key probe per name (the LATERAL form), and the rows a call
//! reads and then writes are read `FOR UPDATE`, so a plain-SQL writer of them waits.

use pgrx::pg_sys::{self, Oid};

use crate::storage::spi::Query;

const INT8: Oid = pg_sys::INT8OID;
const INT4: Oid = pg_sys::INT4OID;
const TEXT: Oid = pg_sys::TEXTOID;
const JSONB: Oid = pg_sys::JSONBOID;
const TEXT_ARRAY: Oid = pg_sys::TEXTARRAYOID;

/// A read of the names `$1` from `$table` where `$filter`, plain and row-locked.
macro_rules! reads {
    ($plain:ident, $locked:ident, $table:literal, $filter:literal, $args:expr) => {
        pub static $plain: Query = Query {
            name: stringify!($plain),
            sql: concat!(
                "SELECT t.var_name, t.var_value FROM pg_catalog.unnest($1::pg_catalog.text[]) AS n(name), \
                 LATERAL (SELECT x.var_name, x.var_value FROM ", $table, " x WHERE ", $filter,
                " AND x.var_name OPERATOR(pg_catalog.=) n.name LIMIT 1) t"
            ),
            args: $args,
        };
        pub static $locked: Query = Query {
            name: stringify!($locked),
            sql: concat!(
                "SELECT t.var_name, t.var_value FROM pg_catalog.unnest($1::pg_catalog.text[]) AS n(name), \
                 LATERAL (SELECT x.var_name, x.var_value FROM ", $table, " x WHERE ", $filter,
                " AND x.var_name OPERATOR(pg_catalog.=) n.name LIMIT 1 FOR UPDATE) t"
            ),
            args: $args,
        };
    };
}

reads!(
    STEP_READ,
    STEP_READ_LOCKED,
    "noetl.step_vars",
    "x.execution_id OPERATOR(pg_catalog.=) $2 AND x.step OPERATOR(pg_catalog.=) $3 AND x.iteration IS NULL",
    &[TEXT_ARRAY, INT8, TEXT]
);
reads!(
    ITER_READ,
    ITER_READ_LOCKED,
    "noetl.step_vars",
    "x.execution_id OPERATOR(pg_catalog.=) $2 AND x.step OPERATOR(pg_catalog.=) $3 AND x.iteration OPERATOR(pg_catalog.=) $4",
    &[TEXT_ARRAY, INT8, TEXT, INT4]
);
reads!(
    WORKFLOW_READ,
    WORKFLOW_READ_LOCKED,
    "noetl.workflow_vars",
    "x.playbook OPERATOR(pg_catalog.=) $2",
    &[TEXT_ARRAY, TEXT]
);
reads!(
    GLOBAL_READ,
    GLOBAL_READ_LOCKED,
    "noetl.global_vars",
    "true",
    &[TEXT_ARRAY]
);

/// The names of a scope, for a template that enumerates it. `$1` is unused (the names read
/// are the scope's whole), so that the key parameters are numbered as in the reads.
macro_rules! names {
    ($name:ident, $table:literal, $filter:literal, $args:expr) => {
        pub static $name: Query = Query {
            name: stringify!($name),
            sql: concat!(
                "SELECT x.var_name FROM ",
                $table,
                " x WHERE ",
                $filter,
                " AND $1::pg_catalog.text[] IS NULL ORDER BY x.var_name"
            ),
            args: $args,
        };
    };
}

names!(
    STEP_NAMES,
    "noetl.step_vars",
    "x.execution_id OPERATOR(pg_catalog.=) $2 AND x.step OPERATOR(pg_catalog.=) $3 AND x.iteration IS NULL",
    &[TEXT_ARRAY, INT8, TEXT]
);
names!(
    ITER_NAMES,
    "noetl.step_vars",
    "x.execution_id OPERATOR(pg_catalog.=) $2 AND x.step OPERATOR(pg_catalog.=) $3 AND x.iteration OPERATOR(pg_catalog.=) $4",
    &[TEXT_ARRAY, INT8, TEXT, INT4]
);
names!(
    WORKFLOW_NAMES,
    "noetl.workflow_vars",
    "x.playbook OPERATOR(pg_catalog.=) $2",
    &[TEXT_ARRAY, TEXT]
);
names!(GLOBAL_NAMES, "noetl.global_vars", "true", &[TEXT_ARRAY]);

/// Every member of the object `$1` into a step's (`$4` NULL) or an iteration's scope.
pub static STEP_UPSERT: Query = Query {
    name: "step_upsert",
    sql: "INSERT INTO noetl.step_vars AS t (execution_id, step, iteration, var_name, var_value) \
          SELECT $2, $3, $4, e.key, $1::pg_catalog.jsonb OPERATOR(pg_catalog.->) e.key \
          FROM pg_catalog.jsonb_object_keys($1::pg_catalog.jsonb) AS e(key) \
          ON CONFLICT (execution_id, step, iteration, var_name) DO UPDATE \
          SET var_value = EXCLUDED.var_value, updated_at = EXCLUDED.updated_at",
    args: &[JSONB, INT8, TEXT, INT4],
};

/// Every member of `$1` into playbook `$2`'s scope, written by execution `$3`.
pub static WORKFLOW_UPSERT: Query = Query {
    name: "workflow_upsert",
    sql: "INSERT INTO noetl.workflow_vars AS t (playbook, var_name, var_value, execution_id) \
          SELECT $2, e.key, $1::pg_catalog.jsonb OPERATOR(pg_catalog.->) e.key, $3 \
          FROM pg_catalog.jsonb_object_keys($1::pg_catalog.jsonb) AS e(key) \
          ON CONFLICT (playbook, var_name) DO UPDATE \
          SET var_value = EXCLUDED.var_value, execution_id = EXCLUDED.execution_id, \
              updated_at = EXCLUDED.updated_at",
    args: &[JSONB, TEXT, INT8],
};

/// Every member of `$1` into the global scope, written by execution `$2`.
pub static GLOBAL_UPSERT: Query = Query {
    name: "global_upsert",
    sql: "INSERT INTO noetl.global_vars AS t (var_name, var_value, execution_id) \
          SELECT e.key, $1::pg_catalog.jsonb OPERATOR(pg_catalog.->) e.key, $2 \
          FROM pg_catalog.jsonb_object_keys($1::pg_catalog.jsonb) AS e(key) \
          ON CONFLICT (var_name) DO UPDATE \
          SET var_value = EXCLUDED.var_value, execution_id = EXCLUDED.execution_id, \
              updated_at = EXCLUDED.updated_at",
    args: &[JSONB, INT8],
};

/// A finished step's own and iteration values (`finish_step`).
pub static STEP_FINISH: Query = Query {
    name: "step_finish",
    sql: "DELETE FROM noetl.step_vars \
          WHERE execution_id OPERATOR(pg_catalog.=) $1 AND step OPERATOR(pg_catalog.=) $2",
    args: &[INT8, TEXT],
};

/// What the server renders with (`context_vars`): every scope of an execution, step,
/// iteration and playbook as one object, `{}` for a scope whose key is NULL.
pub static CONTEXT: Query = Query {
    name: "context",
    sql: "SELECT pg_catalog.jsonb_build_object(\
            'ctx', COALESCE((SELECT pg_catalog.jsonb_object_agg(t.var_name, t.var_value) FROM noetl.transient t \
                             WHERE t.execution_id OPERATOR(pg_catalog.=) $1 \
                               AND (t.expires_at IS NULL \
                                    OR t.expires_at OPERATOR(pg_catalog.>) pg_catalog.statement_timestamp())), \
                           '{}'::pg_catalog.jsonb), \
            'step', COALESCE((SELECT pg_catalog.jsonb_object_agg(s.var_name, s.var_value) FROM noetl.step_vars s \
                              WHERE s.execution_id OPERATOR(pg_catalog.=) $1 AND s.step OPERATOR(pg_catalog.=) $2 \
                                AND s.iteration IS NULL), '{}'::pg_catalog.jsonb), \
            'iter', COALESCE((SELECT pg_catalog.jsonb_object_agg(s.var_name, s.var_value) FROM noetl.step_vars s \
                              WHERE s.execution_id OPERATOR(pg_catalog.=) $1 AND s.step OPERATOR(pg_catalog.=) $2 \
                                AND s.iteration OPERATOR(pg_catalog.=) $3), '{}'::pg_catalog.jsonb), \
            'workflow', COALESCE((SELECT pg_catalog.jsonb_object_agg(w.var_name, w.var_value) FROM noetl.workflow_vars w \
                                  WHERE w.playbook OPERATOR(pg_catalog.=) $4), '{}'::pg_catalog.jsonb), \
            'global', COALESCE((SELECT pg_catalog.jsonb_object_agg(g.var_name, g.var_value) FROM noetl.global_vars g), \
                               '{}'::pg_catalog.jsonb))",
    args: &[INT8, TEXT, INT4, TEXT],
};

/// The same for a table without NoETL's lifetime columns (see
/// [`crate::storage::legacy_queries`]).
pub static CONTEXT_LEGACY: Query = Query {
    name: "context_legacy",
    sql: "SELECT pg_catalog.jsonb_build_object(\
            'ctx', COALESCE((SELECT pg_catalog.jsonb_object_agg(t.var_name, t.var_value) FROM noetl.transient t \
                             WHERE t.execution_id OPERATOR(pg_catalog.=) $1), '{}'::pg_catalog.jsonb), \
            'step', COALESCE((SELECT pg_catalog.jsonb_object_agg(s.var_name, s.var_value) FROM noetl.step_vars s \
                              WHERE s.execution_id OPERATOR(pg_catalog.=) $1 AND s.step OPERATOR(pg_catalog.=) $2 \
                                AND s.iteration IS NULL), '{}'::pg_catalog.jsonb), \
            'iter', COALESCE((SELECT pg_catalog.jsonb_object_agg(s.var_name, s.var_value) FROM noetl.step_vars s \
                              WHERE s.execution_id OPERATOR(pg_catalog.=) $1 AND s.step OPERATOR(pg_catalog.=) $2 \
                                AND s.iteration OPERATOR(pg_catalog.=) $3), '{}'::pg_catalog.jsonb), \
            'workflow', COALESCE((SELECT pg_catalog.jsonb_object_agg(w.var_name, w.var_value) FROM noetl.workflow_vars w \
                                  WHERE w.playbook OPERATOR(pg_catalog.=) $4), '{}'::pg_catalog.jsonb), \
            'global', COALESCE((SELECT pg_catalog.jsonb_object_agg(g.var_name, g.var_value) FROM noetl.global_vars g), \
                               '{}'::pg_catalog.jsonb))",
    args: &[INT8, TEXT, INT4, TEXT],
};

/// Where Citus has made the shared scopes reference tables, the writers of one are serialized
/// across nodes by this row-locking read of none of its rows: Citus takes an exclusive lock
/// on the table's shard on its first worker for it, held until commit. The advisory lock a
/// writer takes on the node where its call runs cannot see calls running on other nodes.
pub static WORKFLOW_WRITERS: Query = Query {
    name: "workflow_writers",
    sql: "SELECT 1 FROM noetl.workflow_vars x LIMIT 0 FOR UPDATE",
    args: &[],
};

/// [`WORKFLOW_WRITERS`] for the global scope.
pub static GLOBAL_WRITERS: Query = Query {
    name: "global_writers",
    sql: "SELECT 1 FROM noetl.global_vars x LIMIT 0 FOR UPDATE",
    args: &[],
};

/// The statements planned as index scans by [`crate::storage::planner`], as the per-execution ones.
pub static SCOPED: [&Query; 18] = [
    &STEP_READ,
    &STEP_READ_LOCKED,
    &ITER_READ,
    &ITER_READ_LOCKED,
    &WORKFLOW_READ,
    &WORKFLOW_READ_LOCKED,
    &GLOBAL_READ,
    &GLOBAL_READ_LOCKED,
    &STEP_NAMES,
    &ITER_NAMES,
    &WORKFLOW_NAMES,
    &GLOBAL_NAMES,
    &STEP_UPSERT,
    &WORKFLOW_UPSERT,
    &GLOBAL_UPSERT,
    &STEP_FINISH,
    &CONTEXT,
    &CONTEXT_LEGACY,
];
