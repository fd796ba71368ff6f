//! Every SQL statement the extension runs. All names are schema-qualified, operators included
//! (`OPERATOR(pg_catalog.=)`), so look-alike tables, functions or operators in a schema earlier
//! in `search_path` are never picked up. Every value is a bound parameter.

use pgrx::pg_sys::{self, Oid};

use crate::storage::purge_queries;
use crate::storage::spi::Query;
pub use crate::storage::upserts::{
    UPSERT_OBJECT, UPSERT_OBJECT_NO_TTL, UPSERT_OBJECT_ONE_TYPE, UPSERT_OBJECT_ONE_TYPE_NO_TTL,
    UPSERT_ONE,
};

const INT8: Oid = pg_sys::INT8OID;
const TEXT: Oid = pg_sys::TEXTOID;
const JSONB: Oid = pg_sys::JSONBOID;
const TEXT_ARRAY: Oid = pg_sys::TEXTARRAYOID;
const TIMESTAMPTZ: Oid = pg_sys::TIMESTAMPTZOID;

/// A row whose lifetime has not ended (`expires_at`, NoETL's column): every read leaves the
/// others out, from the statement's start on; `live!(x)` for the table aliased `x`.
macro_rules! live {
    () => {
        "(expires_at IS NULL OR expires_at OPERATOR(pg_catalog.>) pg_catalog.statement_timestamp())"
    };
    (x) => {
        "(x.expires_at IS NULL OR x.expires_at OPERATOR(pg_catalog.>) pg_catalog.statement_timestamp())"
    };
}

/// The value of one variable, untracked: a full primary-key lookup, the cheapest statement
/// there is; blocks usually read one to three variables.
pub static READ_ONE: Query = Query {
    name: "read_one",
    sql: concat!(
        "SELECT var_name, var_value FROM noetl.transient \
         WHERE execution_id OPERATOR(pg_catalog.=) $1 AND var_name OPERATOR(pg_catalog.=) $2 AND ",
        live!()
    ),
    args: &[INT8, TEXT],
};

/// The value of one variable that the caller will write: the row is locked, so a concurrent
/// plain-SQL writer waits (and a newer committed version is what this returns).
pub static READ_ONE_LOCKED: Query = Query {
    name: "read_one_locked",
    sql: concat!(
        "SELECT var_name, var_value FROM noetl.transient \
         WHERE execution_id OPERATOR(pg_catalog.=) $1 AND var_name OPERATOR(pg_catalog.=) $2 AND ",
        live!(),
        " FOR UPDATE"
    ),
    args: &[INT8, TEXT],
};

/// The same for several names, one primary-key probe each (see `READ_SOME`).
pub static READ_SOME_LOCKED: Query = Query {
    name: "read_some_locked",
    sql: concat!(
        "SELECT t.var_name, t.var_value \
         FROM pg_catalog.unnest($2::pg_catalog.text[]) AS n(name), \
         LATERAL (SELECT x.var_name, x.var_value FROM noetl.transient x \
                  WHERE x.execution_id OPERATOR(pg_catalog.=) $1 \
                    AND x.var_name OPERATOR(pg_catalog.=) n.name AND ",
        live!(x),
        " LIMIT 1 FOR UPDATE) t"
    ),
    args: &[INT8, TEXT_ARRAY],
};

/// A placeholder for a variable a block reads and writes but that does not exist yet: the
/// uncommitted row makes concurrent writers of the same key wait for the block's write.
/// Nothing when the key exists (committed by someone else meanwhile).
pub static INSERT_PLACEHOLDER: Query = Query {
    name: "insert_placeholder",
    sql: "INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step) \
          VALUES ($1, $2, $3, 'null'::pg_catalog.jsonb, $4) \
          ON CONFLICT (execution_id, var_name) DO NOTHING RETURNING var_name",
    args: &[INT8, TEXT, TEXT, TEXT],
};

/// One variable with its metadata, untracked (`vars_get` where writes are impossible).
pub static READ_ROW: Query = Query {
    name: "read_row",
    sql: concat!(
        "SELECT var_name, var_value, var_type, source_step, created_at, accessed_at, access_count \
         FROM noetl.transient \
         WHERE execution_id OPERATOR(pg_catalog.=) $1 AND var_name OPERATOR(pg_catalog.=) $2 AND ",
        live!()
    ),
    args: &[INT8, TEXT],
};

/// A tracked read: counts the access and returns the row as it is after it.
pub static TRACKED_READ: Query = Query {
    name: "tracked_read",
    sql: concat!(
        "UPDATE noetl.transient \
         SET access_count = access_count OPERATOR(pg_catalog.+) 1, accessed_at = pg_catalog.now() \
         WHERE execution_id OPERATOR(pg_catalog.=) $1 AND var_name OPERATOR(pg_catalog.=) $2 AND ",
        live!(),
        " RETURNING var_name, var_value, var_type, source_step, created_at, accessed_at, access_count"
    ),
    args: &[INT8, TEXT],
};

/// Values of some variables, untracked (what templates read). One primary-key probe per
/// name, whatever the statistics say: the correlated LATERAL subquery cannot be turned into a
/// hash join, and a full-key equality is an index scan even on a table the planner believes
/// empty. (As `var_name = ANY($2)`, or as a plain join, a generic plan made while the table
/// looked small scanned the execution's every row: 1.6 ms per call at 10,000 variables.)
pub static READ_SOME: Query = Query {
    name: "read_some",
    sql: concat!(
        "SELECT t.var_name, t.var_value \
         FROM pg_catalog.unnest($2::pg_catalog.text[]) AS n(name), \
         LATERAL (SELECT x.var_name, x.var_value FROM noetl.transient x \
                  WHERE x.execution_id OPERATOR(pg_catalog.=) $1 \
                    AND x.var_name OPERATOR(pg_catalog.=) n.name AND ",
        live!(x),
        " LIMIT 1) t"
    ),
    args: &[INT8, TEXT_ARRAY],
};

/// Every variable of an execution with its metadata, untracked, oldest first.
pub static READ_ALL: Query = Query {
    name: "read_all",
    sql: concat!(
        "SELECT var_name, var_value, var_type, source_step, created_at, accessed_at, access_count \
         FROM noetl.transient WHERE execution_id OPERATOR(pg_catalog.=) $1 AND ",
        live!(),
        " ORDER BY created_at, var_name"
    ),
    args: &[INT8],
};

/// The names of an execution's variables, oldest first.
pub static NAMES: Query = Query {
    name: "names",
    sql: concat!(
        "SELECT var_name FROM noetl.transient WHERE execution_id OPERATOR(pg_catalog.=) $1 AND ",
        live!(),
        " ORDER BY created_at, var_name"
    ),
    args: &[INT8],
};

pub static DELETE_ONE: Query = Query {
    name: "delete_one",
    sql: "DELETE FROM noetl.transient \
          WHERE execution_id OPERATOR(pg_catalog.=) $1 AND var_name OPERATOR(pg_catalog.=) $2",
    args: &[INT8, TEXT],
};

pub static DELETE_ALL: Query = Query {
    name: "delete_all",
    sql: "DELETE FROM noetl.transient WHERE execution_id OPERATOR(pg_catalog.=) $1",
    args: &[INT8],
};

/// One history row (noetl_vars.track_history).
pub static HISTORY_INSERT: Query = Query {
    name: "history_insert",
    sql: "INSERT INTO noetl.transient_history \
          (execution_id, var_name, operation, old_value, new_value, var_type, source_step) \
          VALUES ($1, $2, $3, $4, $5, $6, $7)",
    args: &[INT8, TEXT, TEXT, JSONB, JSONB, TEXT, TEXT],
};

/// [`HISTORY_INSERT`] where Citus is loaded: the row's id is this node's next one plus `$8`,
/// its group's range (`group id << 48`, the ranges Citus gives the sequences it creates),
/// so that ids stay unique across nodes and an execution's rows keep unique keys when its
/// shard moves to another node (docs/scale-out.md).
pub static HISTORY_INSERT_CITUS: Query = Query {
    name: "history_insert_citus",
    sql: "INSERT INTO noetl.transient_history \
          (execution_id, var_name, operation, old_value, new_value, var_type, source_step, id) \
          OVERRIDING SYSTEM VALUE \
          VALUES ($1, $2, $3, $4, $5, $6, $7, \
                  pg_catalog.nextval('noetl.transient_history_id_seq'::pg_catalog.regclass) \
                  OPERATOR(pg_catalog.+) $8)",
    args: &[INT8, TEXT, TEXT, JSONB, JSONB, TEXT, TEXT, INT8],
};

/// This node's Citus group (0 on the coordinator), where Citus is loaded and created.
pub static CITUS_GROUP: Query = Query {
    name: "citus_group",
    sql: "SELECT groupid::pg_catalog.int8 FROM pg_catalog.pg_dist_local_group",
    args: &[],
};

/// Where Citus is loaded, run by a call before it reads rows of execution `$1` to write them:
/// a modification of the execution's shard that changes nothing. For a modification Citus
/// locks the shard's placement (a move waits for it, and it for a move) and routes it after
/// that lock, which it does not for a `SELECT … FOR UPDATE`; so once this ran, the rows the
/// call reads `FOR UPDATE` are those of the shard's current placement, where every other writer
/// of the execution locks them, and no move starts before the transaction ends. (Without it a
/// call inside a transaction block could read a row from the placement a move was leaving,
/// and overwrite what a delegated call had written to the new one: 20 of 35,169 increments
/// lost during a rebalance.) `access_count` is never negative: no row matches.
pub static HOLD_PLACEMENT: Query = Query {
    name: "hold_placement",
    sql: "UPDATE noetl.transient SET access_count = access_count \
          WHERE execution_id OPERATOR(pg_catalog.=) $1 AND access_count OPERATOR(pg_catalog.<) 0",
    args: &[INT8],
};

/// The value variable `$2` of execution `$1` had at `$3`, from the history: the newest row at
/// or before it (NULL after a delete), none when it did not exist then (`noetl.var_at`).
pub static VAR_AT: Query = Query {
    name: "var_at",
    sql: "SELECT h.new_value FROM noetl.transient_history h \
          WHERE h.execution_id OPERATOR(pg_catalog.=) $1 AND h.var_name OPERATOR(pg_catalog.=) $2 \
            AND h.changed_at OPERATOR(pg_catalog.<=) $3 \
          ORDER BY h.changed_at DESC, h.id DESC LIMIT 1",
    args: &[INT8, TEXT, TIMESTAMPTZ],
};

/// The variables of `$2` (an object `{name: value}`) the execution already holds with another
/// value (jsonb equality), as `{name: {"runtime": …, "predefined": …}}`, `{}` for none; the rows
/// of every name of `$2` the execution holds are locked, so what is compared is what a write
/// that follows replaces (`resume_execution`).
pub static RESUME_CONFLICTS: Query = Query {
    name: "resume_conflicts",
    sql: concat!(
        "WITH held AS (SELECT x.var_name, x.var_value FROM noetl.transient x \
              WHERE x.execution_id OPERATOR(pg_catalog.=) $1 \
                AND x.var_name OPERATOR(pg_catalog.=) ANY \
                    (ARRAY(SELECT pg_catalog.jsonb_object_keys($2::pg_catalog.jsonb))) AND ",
        live!(x),
        " FOR UPDATE) \
          SELECT COALESCE(pg_catalog.jsonb_object_agg(h.var_name, pg_catalog.jsonb_build_object( \
                     'runtime', h.var_value, \
                     'predefined', $2::pg_catalog.jsonb OPERATOR(pg_catalog.->) h.var_name)), \
                 '{}'::pg_catalog.jsonb) \
          FROM held h \
          WHERE h.var_value OPERATOR(pg_catalog.<>) ($2::pg_catalog.jsonb OPERATOR(pg_catalog.->) h.var_name)"
    ),
    args: &[INT8, JSONB],
};

/// The statements that touch one execution, `$1`. They are planned as index scans
/// ([`crate::storage::planner`]), and each is confined to its execution (the test below), which is what
/// lets a distributed setup send a call to the shard holding it.
pub static PER_EXECUTION: [&Query; 22] = [
    &RESUME_CONFLICTS,
    &UPSERT_ONE,
    &UPSERT_OBJECT,
    &UPSERT_OBJECT_ONE_TYPE,
    &UPSERT_OBJECT_NO_TTL,
    &UPSERT_OBJECT_ONE_TYPE_NO_TTL,
    &READ_ONE,
    &READ_ONE_LOCKED,
    &READ_SOME_LOCKED,
    &INSERT_PLACEHOLDER,
    &READ_ROW,
    &TRACKED_READ,
    &READ_SOME,
    &READ_ALL,
    &NAMES,
    &DELETE_ONE,
    &DELETE_ALL,
    &HISTORY_INSERT,
    &HISTORY_INSERT_CITUS,
    &HOLD_PLACEMENT,
    &purge_queries::PURGE_EXECUTION,
    &purge_queries::PURGE_EXPIRED_OF,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every statement of a per-execution function touches exactly one execution, `$1`: each
    /// reference to a table is filtered on `execution_id = $1` or inserts `$1` as it. This is
    /// what lets a distributed setup (Citus) send each call to the shard holding that
    /// execution; `tests/sql/single_execution.sql` checks the same from the outside.
    #[test]
    fn per_execution_statements_touch_execution_one_only() {
        crate::storage::spi::assert_confined(&PER_EXECUTION);
        // The purges' candidate searches span executions by design, without row locks
        // (crate::storage::purge_queries::SPANNING_UNDER_CITUS).
    }
}
