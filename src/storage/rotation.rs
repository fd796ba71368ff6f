//! Key rotation (docs/encryption.md, "Rotating keys"): every stored value sealed under a key
//! other than the active one, and every value of a variable declared sensitive still in
//! clear, sealed again under the active key, a few pages at a time.
//!
//! Each table is walked in physical order by ranges of pages (a TID range scan reads only
//! those pages), its rows that need it locked `FOR UPDATE SKIP LOCKED`: a writer of another
//! row never waits, a writer of the same row waits for one range at most, and a row a writer
//! holds is left to that writer, which seals under the active key itself. Where the walk
//! stands is kept in `noetl.key_rotation`, so a rotation is resumable from any session.

use pgrx::pg_sys::{self, Oid};

use crate::storage::datum;
use crate::storage::jsonb::PgJsonb;
use crate::storage::spi::{execute, Query, Rows};

const TEXT: Oid = pg_sys::TEXTOID;
const TEXT_ARRAY: Oid = pg_sys::TEXTARRAYOID;
const JSONB: Oid = pg_sys::JSONBOID;
const TID: Oid = pg_sys::TIDOID;

/// Pages one statement reads.
pub const PAGES_PER_RANGE: u32 = 8;

/// Whether value `$v` may need sealing again: sealed under another key than `$3`, or in clear
/// with a name in `$4` (declared sensitive somewhere; which declaration applies is decided
/// row by row).
macro_rules! needs {
    ($v:literal, $name:literal) => {
        concat!(
            "(CASE WHEN ",
            $v,
            " IS NULL THEN false WHEN pg_catalog.jsonb_typeof(",
            $v,
            ") OPERATOR(pg_catalog.=) 'object' AND ",
            $v,
            " OPERATOR(pg_catalog.?) 'noetl_vars_sealed' THEN NOT pg_catalog.starts_with(",
            $v,
            " OPERATOR(pg_catalog.->>) 'noetl_vars_sealed', 'v1.' OPERATOR(pg_catalog.||) $3 ",
            "OPERATOR(pg_catalog.||) '.') ELSE ",
            $name,
            " OPERATOR(pg_catalog.=) ANY ($4) END)"
        )
    };
}

/// The rows of pages `[$1, $2)` (as `(page,0)` tids) that may need sealing again: `ctid,
/// execution_id, step, iteration, playbook, var_name, value, second value`.
macro_rules! select {
    ($name:literal, $columns:literal, $table:literal, $filter:expr) => {
        Query {
            name: $name,
            sql: concat!(
                "SELECT x.ctid, ",
                $columns,
                " FROM ",
                $table,
                " x \
                 WHERE x.ctid OPERATOR(pg_catalog.>=) CAST($1 AS pg_catalog.tid) \
                   AND x.ctid OPERATOR(pg_catalog.<) CAST($2 AS pg_catalog.tid) AND ",
                $filter,
                " FOR UPDATE OF x SKIP LOCKED"
            ),
            args: &[TEXT, TEXT, TEXT, TEXT_ARRAY],
        }
    };
}

/// A table whose values are sealed.
pub struct Sealed {
    /// As `noetl.key_rotation.table_name` names it.
    pub name: &'static str,
    pub select: Query,
    /// `$1` the row's ctid, `$2` its value, `$3` its second value (history only).
    pub update: Query,
}

/// In the order a rotation walks them.
pub static TABLES: [Sealed; 6] = [
    Sealed {
        name: "transient",
        select: select!(
            "rotate_select_transient",
            "x.execution_id, NULL::pg_catalog.text, NULL::pg_catalog.int4, NULL::pg_catalog.text, \
             x.var_name, x.var_value, NULL::pg_catalog.jsonb",
            "noetl.transient",
            needs!("x.var_value", "x.var_name")
        ),
        update: Query {
            name: "rotate_update_transient",
            sql: "UPDATE noetl.transient SET var_value = $2 WHERE ctid OPERATOR(pg_catalog.=) $1",
            args: &[TID, JSONB, JSONB],
        },
    },
    Sealed {
        name: "step_vars",
        select: select!(
            "rotate_select_step_vars",
            "x.execution_id, x.step, x.iteration, NULL::pg_catalog.text, x.var_name, x.var_value, \
             NULL::pg_catalog.jsonb",
            "noetl.step_vars",
            needs!("x.var_value", "x.var_name")
        ),
        update: Query {
            name: "rotate_update_step_vars",
            sql: "UPDATE noetl.step_vars SET var_value = $2 WHERE ctid OPERATOR(pg_catalog.=) $1",
            args: &[TID, JSONB, JSONB],
        },
    },
    Sealed {
        name: "workflow_vars",
        select: select!(
            "rotate_select_workflow_vars",
            "NULL::pg_catalog.int8, NULL::pg_catalog.text, NULL::pg_catalog.int4, x.playbook, \
             x.var_name, x.var_value, NULL::pg_catalog.jsonb",
            "noetl.workflow_vars",
            needs!("x.var_value", "x.var_name")
        ),
        update: Query {
            name: "rotate_update_workflow_vars",
            sql:
                "UPDATE noetl.workflow_vars SET var_value = $2 WHERE ctid OPERATOR(pg_catalog.=) $1",
            args: &[TID, JSONB, JSONB],
        },
    },
    Sealed {
        name: "global_vars",
        select: select!(
            "rotate_select_global_vars",
            "NULL::pg_catalog.int8, NULL::pg_catalog.text, NULL::pg_catalog.int4, \
             NULL::pg_catalog.text, x.var_name, x.var_value, NULL::pg_catalog.jsonb",
            "noetl.global_vars",
            needs!("x.var_value", "x.var_name")
        ),
        update: Query {
            name: "rotate_update_global_vars",
            sql: "UPDATE noetl.global_vars SET var_value = $2 WHERE ctid OPERATOR(pg_catalog.=) $1",
            args: &[TID, JSONB, JSONB],
        },
    },
    Sealed {
        name: "transient_history",
        select: select!(
            "rotate_select_transient_history",
            "x.execution_id, NULL::pg_catalog.text, NULL::pg_catalog.int4, NULL::pg_catalog.text, \
             x.var_name, x.old_value, x.new_value",
            "noetl.transient_history",
            concat!(
                "(",
                needs!("x.old_value", "x.var_name"),
                " IS TRUE OR ",
                needs!("x.new_value", "x.var_name"),
                " IS TRUE)"
            )
        ),
        update: Query {
            name: "rotate_update_transient_history",
            sql: "UPDATE noetl.transient_history SET old_value = $2, new_value = $3 \
                  WHERE ctid OPERATOR(pg_catalog.=) $1",
            args: &[TID, JSONB, JSONB],
        },
    },
    Sealed {
        name: "applied_events",
        select: select!(
            "rotate_select_applied_events",
            "x.execution_id, x.event_id, NULL::pg_catalog.int4, NULL::pg_catalog.text, \
             'result'::pg_catalog.text, x.result, NULL::pg_catalog.jsonb",
            "noetl.applied_events",
            needs!("x.result", "NULL::pg_catalog.text")
        ),
        update: Query {
            name: "rotate_update_applied_events",
            sql: "UPDATE noetl.applied_events SET result = $2 WHERE ctid OPERATOR(pg_catalog.=) $1",
            args: &[TID, JSONB, JSONB],
        },
    },
];

/// One row a range statement found.
pub struct Found {
    pub ctid: pg_sys::Datum,
    pub execution_id: Option<i64>,
    pub step: Option<String>,
    pub iteration: Option<i32>,
    pub playbook: Option<String>,
    pub name: String,
    pub values: [Option<PgJsonb>; 2],
}

/// Row `i` of a range statement.
pub fn found(rows: &Rows, i: usize) -> Option<Found> {
    // SAFETY: the range statements return the columns in this order with these types; the
    // text and jsonb ones are read only when not null.
    unsafe {
        let jsonb = |col| rows.get(i, col).map(|d| PgJsonb::copy_of(d));
        Some(Found {
            ctid: rows.get(i, 1)?,
            execution_id: rows.get(i, 2).map(|d| d.value() as i64),
            step: rows.get(i, 3).map(|d| datum::text(d)),
            iteration: rows.get(i, 4).map(|d| d.value() as i32),
            playbook: rows.get(i, 5).map(|d| datum::text(d)),
            name: datum::text(rows.get(i, 6)?),
            values: [jsonb(7), jsonb(8)],
        })
    }
}

/// Where the walk stands: one row, locked for the batch, so batches run one at a time.
pub static STATE_READ: Query = Query {
    name: "rotate_state_read",
    sql: "SELECT active_key, table_name, next_page, rewritten FROM noetl.key_rotation FOR UPDATE",
    args: &[],
};

pub static STATE_START: Query = Query {
    name: "rotate_state_start",
    sql: "INSERT INTO noetl.key_rotation (active_key, table_name, next_page) VALUES ($1, 'transient', 0) \
          ON CONFLICT (only_row) DO NOTHING",
    args: &[TEXT],
};

/// `$1` active key, `$2` table, `$3` page, `$4` values rewritten so far.
pub static STATE_SAVE: Query = Query {
    name: "rotate_state_save",
    sql: "UPDATE noetl.key_rotation SET active_key = $1, table_name = $2, next_page = $3, \
          rewritten = $4, updated_at = pg_catalog.clock_timestamp(), \
          started_at = CASE WHEN active_key OPERATOR(pg_catalog.=) $1 THEN started_at \
                            ELSE pg_catalog.clock_timestamp() END",
    args: &[TEXT, TEXT, pg_sys::INT8OID, pg_sys::INT8OID],
};

/// The names declared sensitive in some declaration, read with the declarations' owner rights.
pub static SENSITIVE_NAMES: Query = Query {
    name: "rotate_sensitive_names",
    sql: "SELECT COALESCE(pg_catalog.array_agg(DISTINCT d.var_name), '{}') FROM noetl.declarations d \
          WHERE d.sensitive",
    args: &[],
};

/// The pages of table `$1` (`noetl.<name>`) now.
pub fn pages(table: &str) -> u32 {
    static SIZE: Query = Query {
        name: "rotate_relation_size",
        sql: "SELECT pg_catalog.pg_relation_size(CAST('noetl.' OPERATOR(pg_catalog.||) $1 AS pg_catalog.regclass))",
        args: &[TEXT],
    };
    let rows = execute(&SIZE, &[crate::storage::table::text_arg(table)], true);
    let bytes = rows.get(0, 1).map_or(0, |d| d.value() as i64);
    u32::try_from(bytes / i64::from(pg_sys::BLCKSZ)).unwrap_or(u32::MAX)
}

/// Whether value `$v` is sealed under another key than `$1`.
macro_rules! other_key {
    ($v:literal) => {
        concat!(
            "(pg_catalog.jsonb_typeof(",
            $v,
            ") OPERATOR(pg_catalog.=) 'object' AND ",
            $v,
            " OPERATOR(pg_catalog.?) 'noetl_vars_sealed' AND NOT pg_catalog.starts_with(",
            $v,
            " OPERATOR(pg_catalog.->>) 'noetl_vars_sealed', 'v1.' OPERATOR(pg_catalog.||) $1 ",
            "OPERATOR(pg_catalog.||) '.'))"
        )
    };
}

/// Whether value `$v` of name `$name` is in clear although the declaration that applies to
/// it (`$decl`, as [`crate::storage::declarations::applying`] resolves it for its table) is
/// sensitive; `$2` is the names declared sensitive somewhere.
macro_rules! in_clear {
    ($v:literal, $name:literal, $decl:expr) => {
        concat!(
            "(", $v, " IS NOT NULL AND NOT (pg_catalog.jsonb_typeof(", $v, ") OPERATOR(pg_catalog.=) 'object' AND ",
            $v, " OPERATOR(pg_catalog.?) 'noetl_vars_sealed') AND ", $name, " OPERATOR(pg_catalog.=) ANY ($2) ",
            "AND COALESCE((SELECT d.sensitive FROM noetl.declarations d WHERE d.var_name OPERATOR(pg_catalog.=) ",
            $name, " AND ", $decl, " ORDER BY d.execution_id IS NULL, d.playbook IS NULL LIMIT 1), false))"
        )
    };
}

macro_rules! for_execution {
    () => {
        "(d.execution_id IS NULL OR d.execution_id OPERATOR(pg_catalog.=) x.execution_id) AND d.playbook IS NULL"
    };
}

/// How many values are left for another pass, in every table: sealed under another key than
/// `$1`, or in clear though declared sensitive (rows a writer held during the pass, or written
/// meanwhile by a session with an older key ring).
pub static REMAINING: Query = Query {
    name: "rotate_remaining",
    sql: concat!(
        "SELECT (SELECT pg_catalog.count(*) FROM noetl.transient x WHERE ",
        other_key!("x.var_value"), " OR ", in_clear!("x.var_value", "x.var_name", for_execution!()), ") ",
        "OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM noetl.step_vars x WHERE ",
        other_key!("x.var_value"), " OR ", in_clear!("x.var_value", "x.var_name", for_execution!()), ") ",
        "OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM noetl.workflow_vars x WHERE ",
        other_key!("x.var_value"), " OR ",
        in_clear!("x.var_value", "x.var_name",
                  "d.execution_id IS NULL AND (d.playbook IS NULL OR d.playbook OPERATOR(pg_catalog.=) x.playbook)"), ") ",
        "OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM noetl.global_vars x WHERE ",
        other_key!("x.var_value"), " OR ",
        in_clear!("x.var_value", "x.var_name", "d.execution_id IS NULL AND d.playbook IS NULL"), ") ",
        "OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM noetl.transient_history x WHERE ",
        other_key!("x.old_value"), " OR ", other_key!("x.new_value"), " OR ",
        in_clear!("x.old_value", "x.var_name", for_execution!()), " OR ",
        in_clear!("x.new_value", "x.var_name", for_execution!()), ") ",
        "OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM noetl.applied_events x WHERE ",
        other_key!("x.result"), ")"
    ),
    args: &[TEXT, TEXT_ARRAY],
};
