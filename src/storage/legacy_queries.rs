//! The statements of 0.5.0 and earlier, for a table without NoETL's lifetime columns
//! (`expires_at`, `scope`): an extension not updated yet whose library is already 0.6.0 or
//! later (between installing the package and `ALTER EXTENSION noetl_vars UPDATE`) keeps
//! working, seeing every row as those versions did. [`lifetimes`] tells which set a call uses.

use pgrx::pg_sys::{self, Oid};

use crate::backend::catalog;
use crate::storage::spi::Query;

const INT8: Oid = pg_sys::INT8OID;
const TEXT: Oid = pg_sys::TEXTOID;
const JSONB: Oid = pg_sys::JSONBOID;
const TEXT_ARRAY: Oid = pg_sys::TEXTARRAYOID;

/// Whether `noetl.transient` has NoETL's lifetime columns (0.6.0 on). Three catalog-cache
/// look-ups, cheap beside any statement, and always current: an `ALTER EXTENSION … UPDATE` in
/// another session is seen by the next call.
pub fn lifetimes() -> bool {
    catalog::noetl_relation(c"transient").is_some_and(|table| {
        // SAFETY: a catalog-cache look-up inside a transaction (every caller is a SQL function).
        let attnum = unsafe { pg_sys::get_attnum(table, c"expires_at".as_ptr()) };
        attnum != pg_sys::InvalidAttrNumber as i16
    })
}

/// `live` when the table has lifetimes, else `legacy`.
pub fn pick(legacy: &'static Query, live: &'static Query) -> &'static Query {
    if lifetimes() {
        live
    } else {
        legacy
    }
}

pub static UPSERT_ONE_LEGACY: Query = Query {
    name: "upsert_one_legacy",
    sql: "INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step) \
          VALUES ($1, $2, $3, $4, $5) \
          ON CONFLICT (execution_id, var_name) DO UPDATE \
          SET var_value = EXCLUDED.var_value, var_type = EXCLUDED.var_type, \
              source_step = EXCLUDED.source_step, accessed_at = EXCLUDED.accessed_at",
    args: &[INT8, TEXT, TEXT, JSONB, TEXT],
};

pub static UPSERT_OBJECT_LEGACY: Query = Query {
    name: "upsert_object_legacy",
    sql: "INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step) \
          SELECT $1, e.key, $3::pg_catalog.jsonb OPERATOR(pg_catalog.->>) e.key, e.value, $4 \
          FROM pg_catalog.jsonb_each($2::pg_catalog.jsonb) AS e \
          ON CONFLICT (execution_id, var_name) DO UPDATE \
          SET var_value = EXCLUDED.var_value, var_type = EXCLUDED.var_type, \
              source_step = EXCLUDED.source_step, accessed_at = EXCLUDED.accessed_at",
    args: &[INT8, JSONB, JSONB, TEXT],
};

pub static UPSERT_OBJECT_ONE_TYPE_LEGACY: Query = Query {
    name: "upsert_object_one_type_legacy",
    sql: "INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step) \
          SELECT $1, e.key, $3, e.value, $4 \
          FROM pg_catalog.jsonb_each($2::pg_catalog.jsonb) AS e \
          ON CONFLICT (execution_id, var_name) DO UPDATE \
          SET var_value = EXCLUDED.var_value, var_type = EXCLUDED.var_type, \
              source_step = EXCLUDED.source_step, accessed_at = EXCLUDED.accessed_at",
    args: &[INT8, JSONB, TEXT, TEXT],
};

pub static READ_ONE_LEGACY: Query = Query {
    name: "read_one_legacy",
    sql: "SELECT var_name, var_value FROM noetl.transient \
          WHERE execution_id OPERATOR(pg_catalog.=) $1 AND var_name OPERATOR(pg_catalog.=) $2",
    args: &[INT8, TEXT],
};

pub static READ_ONE_LOCKED_LEGACY: Query = Query {
    name: "read_one_locked_legacy",
    sql: "SELECT var_name, var_value FROM noetl.transient \
          WHERE execution_id OPERATOR(pg_catalog.=) $1 AND var_name OPERATOR(pg_catalog.=) $2 \
          FOR UPDATE",
    args: &[INT8, TEXT],
};

pub static READ_SOME_LOCKED_LEGACY: Query = Query {
    name: "read_some_locked_legacy",
    sql: "SELECT t.var_name, t.var_value \
          FROM pg_catalog.unnest($2::pg_catalog.text[]) AS n(name), \
          LATERAL (SELECT x.var_name, x.var_value FROM noetl.transient x \
                   WHERE x.execution_id OPERATOR(pg_catalog.=) $1 \
                     AND x.var_name OPERATOR(pg_catalog.=) n.name LIMIT 1 FOR UPDATE) t",
    args: &[INT8, TEXT_ARRAY],
};

pub static READ_ROW_LEGACY: Query = Query {
    name: "read_row_legacy",
    sql:
        "SELECT var_name, var_value, var_type, source_step, created_at, accessed_at, access_count \
          FROM noetl.transient \
          WHERE execution_id OPERATOR(pg_catalog.=) $1 AND var_name OPERATOR(pg_catalog.=) $2",
    args: &[INT8, TEXT],
};

pub static TRACKED_READ_LEGACY: Query = Query {
    name: "tracked_read_legacy",
    sql: "UPDATE noetl.transient \
          SET access_count = access_count OPERATOR(pg_catalog.+) 1, accessed_at = pg_catalog.now() \
          WHERE execution_id OPERATOR(pg_catalog.=) $1 AND var_name OPERATOR(pg_catalog.=) $2 \
          RETURNING var_name, var_value, var_type, source_step, created_at, accessed_at, access_count",
    args: &[INT8, TEXT],
};

pub static READ_SOME_LEGACY: Query = Query {
    name: "read_some_legacy",
    sql: "SELECT t.var_name, t.var_value \
          FROM pg_catalog.unnest($2::pg_catalog.text[]) AS n(name), \
          LATERAL (SELECT x.var_name, x.var_value FROM noetl.transient x \
                   WHERE x.execution_id OPERATOR(pg_catalog.=) $1 \
                     AND x.var_name OPERATOR(pg_catalog.=) n.name LIMIT 1) t",
    args: &[INT8, TEXT_ARRAY],
};

pub static READ_ALL_LEGACY: Query = Query {
    name: "read_all_legacy",
    sql:
        "SELECT var_name, var_value, var_type, source_step, created_at, accessed_at, access_count \
          FROM noetl.transient WHERE execution_id OPERATOR(pg_catalog.=) $1 \
          ORDER BY created_at, var_name",
    args: &[INT8],
};

pub static NAMES_LEGACY: Query = Query {
    name: "names_legacy",
    sql: "SELECT var_name FROM noetl.transient WHERE execution_id OPERATOR(pg_catalog.=) $1 \
          ORDER BY created_at, var_name",
    args: &[INT8],
};

/// These statements, planned as index scans like the current ones ([`crate::storage::planner`]).
pub static LEGACY: [&Query; 11] = [
    &UPSERT_ONE_LEGACY,
    &UPSERT_OBJECT_LEGACY,
    &UPSERT_OBJECT_ONE_TYPE_LEGACY,
    &READ_ONE_LEGACY,
    &READ_ONE_LOCKED_LEGACY,
    &READ_SOME_LOCKED_LEGACY,
    &READ_ROW_LEGACY,
    &TRACKED_READ_LEGACY,
    &READ_SOME_LEGACY,
    &READ_ALL_LEGACY,
    &NAMES_LEGACY,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// As the current statements: each is confined to execution `$1`, and none names a column
    /// the 0.5.0 table does not have.
    #[test]
    fn per_execution_statements_touch_execution_one_only() {
        crate::storage::spi::assert_confined(&LEGACY);
        for q in LEGACY {
            assert!(
                !q.sql.contains("expires_at"),
                "{}: names a 0.6.0 column",
                q.name
            );
        }
    }
}
