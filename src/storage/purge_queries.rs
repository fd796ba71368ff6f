//! The statements of the purges (`purge_stale`, `purge_execution`, `purge_expired`). On one
//! server a purge finds its candidates and deletes them in few statements. Where Citus has
//! distributed `noetl.transient`, a statement that spans executions may not lock rows (Citus
//! refuses `FOR UPDATE` on several shards) and a lock check must be made where the calls of
//! the execution take their locks, on the worker: the candidates are found without locks
//! ([`SPANNING_UNDER_CITUS`]) and each execution is purged by a statement confined to it, or
//! by `noetl.purge_execution` delegated to its worker (docs/scale-out.md).

use pgrx::pg_sys::{self, Oid};

use crate::storage::spi::Query;

const INT8: Oid = pg_sys::INT8OID;
const INT4: Oid = pg_sys::INT4OID;
const INTERVAL: Oid = pg_sys::INTERVALOID;

/// Executions whose variables were all last written or read before now() - $1, oldest
/// first, at most $2 of them.
pub static STALE_EXECUTIONS: Query = Query {
    name: "stale_executions",
    sql: "SELECT execution_id FROM noetl.transient GROUP BY execution_id \
          HAVING pg_catalog.max(GREATEST(created_at, accessed_at)) OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) $1) \
          ORDER BY pg_catalog.max(GREATEST(created_at, accessed_at)), execution_id LIMIT $2",
    args: &[INTERVAL, INT4],
};

/// Deletes an execution's variables if it is still untouched since now() - $2; returns how
/// many there were and its last activity.
pub static PURGE_EXECUTION: Query = Query {
    name: "purge_execution",
    sql: "WITH gone AS (DELETE FROM noetl.transient WHERE execution_id OPERATOR(pg_catalog.=) $1 \
              AND NOT EXISTS (SELECT 1 FROM noetl.transient r WHERE r.execution_id OPERATOR(pg_catalog.=) $1 \
                  AND GREATEST(r.created_at, r.accessed_at) OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) $2)) \
              RETURNING GREATEST(created_at, accessed_at) AS activity) \
          SELECT pg_catalog.count(*)::pg_catalog.int4, pg_catalog.max(activity) FROM gone",
    args: &[INT8, INTERVAL],
};

/// Deletes up to $1 variables whose lifetime has ended, those that ended first first,
/// skipping rows another transaction holds (as `noetl.purge_expired` does); per execution, how
/// many and the last activity among them. Spans executions, like [`STALE_EXECUTIONS`].
pub static PURGE_EXPIRED_ROWS: Query = Query {
    name: "purge_expired_rows",
    sql: "WITH doomed AS (SELECT t.ctid AS row_id FROM noetl.transient t \
              WHERE t.expires_at OPERATOR(pg_catalog.<=) pg_catalog.statement_timestamp() \
              ORDER BY t.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED), \
          gone AS (DELETE FROM noetl.transient t USING doomed d WHERE t.ctid OPERATOR(pg_catalog.=) d.row_id \
              RETURNING t.execution_id, GREATEST(t.created_at, t.accessed_at) AS activity) \
          SELECT execution_id, pg_catalog.count(*)::pg_catalog.int4, pg_catalog.max(activity) \
          FROM gone GROUP BY execution_id ORDER BY execution_id",
    args: &[INT4],
};

/// Executions holding variables whose lifetime has ended, those whose first one ended first
/// first, at most $1 of them; no row locked (where Citus has distributed the table).
pub static EXPIRED_EXECUTIONS: Query = Query {
    name: "expired_executions",
    sql: "SELECT t.execution_id FROM noetl.transient t \
          WHERE t.expires_at OPERATOR(pg_catalog.<=) pg_catalog.statement_timestamp() \
          GROUP BY t.execution_id ORDER BY pg_catalog.min(t.expires_at), t.execution_id LIMIT $1",
    args: &[INT4],
};

/// [`PURGE_EXPIRED_ROWS`] for one execution, `$1`, at most $2 rows: how many and their last
/// activity (where Citus has distributed the table, one shard's statement).
pub static PURGE_EXPIRED_OF: Query = Query {
    name: "purge_expired_of",
    sql: "WITH doomed AS (SELECT t.var_name FROM noetl.transient t \
              WHERE t.execution_id OPERATOR(pg_catalog.=) $1 \
                AND t.expires_at OPERATOR(pg_catalog.<=) pg_catalog.statement_timestamp() \
              ORDER BY t.expires_at LIMIT $2 FOR UPDATE SKIP LOCKED), \
          gone AS (DELETE FROM noetl.transient t USING doomed d \
              WHERE t.execution_id OPERATOR(pg_catalog.=) $1 AND t.var_name OPERATOR(pg_catalog.=) d.var_name \
              RETURNING GREATEST(t.created_at, t.accessed_at) AS activity) \
          SELECT pg_catalog.count(*)::pg_catalog.int4, pg_catalog.max(activity) FROM gone",
    args: &[INT8, INT4],
};

/// One execution's purge made by `noetl.purge_execution`, which Citus runs on the worker
/// holding the execution (distributed with `force_delegation`, even inside this function).
pub static PURGE_DELEGATED: Query = Query {
    name: "purge_delegated",
    sql: "SELECT p.variables, p.last_activity FROM noetl.purge_execution($1, $2) AS p",
    args: &[INT8, INTERVAL],
};

/// Whether Citus has distributed `noetl.transient`, and whether `noetl.purge_execution` is
/// distributed with `force_delegation` (asked where Citus's tables exist).
pub static CITUS_PURGE_SETUP: Query = Query {
    name: "citus_purge_setup",
    sql: "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p \
                  WHERE p.logicalrelid OPERATOR(pg_catalog.=) 'noetl.transient'::pg_catalog.regclass), \
                 COALESCE((SELECT o.force_delegation FROM pg_catalog.pg_dist_object o \
                  WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass \
                    AND o.objid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure( \
                        'noetl.purge_execution(pg_catalog.int8, pg_catalog.interval)')), false)",
    args: &[],
};

/// The statements of a purge that span executions where Citus has distributed the table:
/// none may lock a row (`src/pg_tests/citus.rs`).
#[cfg(any(test, feature = "pg_test"))]
pub static SPANNING_UNDER_CITUS: [&Query; 2] = [&STALE_EXECUTIONS, &EXPIRED_EXECUTIONS];
