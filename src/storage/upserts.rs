//! The statements that write variables of `noetl.transient` (upserts), and the statement
//! start they are given as a parameter. Schema-qualified and bound like every statement of
//! [`crate::storage::queries`], which lists them with the rest.

use pgrx::pg_sys::{self, Oid};

use crate::storage::spi::{execute, int8_arg, opt_text_arg, text_arg, Query};

const INT8: Oid = pg_sys::INT8OID;
const TEXT: Oid = pg_sys::TEXTOID;
const JSONB: Oid = pg_sys::JSONBOID;
const TIMESTAMPTZ: Oid = pg_sys::TIMESTAMPTZOID;

/// `statement_timestamp()`, given to a write as a parameter (see `overwrite!`): a value and
/// its null flag, as SPI takes them.
pub fn statement_start() -> (pg_sys::Datum, bool) {
    // SAFETY: reading the backend's statement start time has no preconditions.
    let now = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    (pg_sys::Datum::from(now), false)
}

/// What an overwrite (`ON CONFLICT … DO UPDATE SET`) sets: the value, its type and step, and
/// `accessed_at`; a variable whose lifetime had ended starts afresh (created now, never read,
/// no lifetime), any other keeps `created_at`, `access_count` and `expires_at`. A write with a
/// lifetime (a TTL) gives the variable that lifetime, from now, in either case; `(no_ttl)` is
/// the list for a write without one (the common case). `$now` is the parameter holding the
/// statement's start (`statement_timestamp()`): Citus refuses any function that is not
/// IMMUTABLE in a `DO UPDATE` of a distributed table (docs/scale-out.md).
macro_rules! overwrite {
    ($now:literal) => {
        concat!(
            overwrite!(common, $now),
            "expires_at = CASE WHEN EXCLUDED.expires_at IS NOT NULL THEN EXCLUDED.expires_at \
                               WHEN t.expires_at OPERATOR(pg_catalog.<=) ",
            $now,
            " THEN NULL ELSE t.expires_at END"
        )
    };
    ($now:literal, no_ttl) => {
        concat!(
            overwrite!(common, $now),
            "expires_at = CASE WHEN t.expires_at OPERATOR(pg_catalog.<=) ",
            $now,
            " THEN NULL ELSE t.expires_at END"
        )
    };
    (common, $now:literal) => {
        concat!(
            "var_value = EXCLUDED.var_value, var_type = EXCLUDED.var_type, \
             source_step = EXCLUDED.source_step, accessed_at = EXCLUDED.accessed_at, \
             created_at = CASE WHEN t.expires_at OPERATOR(pg_catalog.<=) ",
            $now,
            " THEN EXCLUDED.created_at ELSE t.created_at END, \
             access_count = CASE WHEN t.expires_at OPERATOR(pg_catalog.<=) ",
            $now,
            " THEN 0 ELSE t.access_count END, "
        )
    };
}

/// Upsert of one variable: a new row starts with `access_count = 0`; an overwrite keeps
/// `created_at` and `access_count` and moves `accessed_at`. `$6`: the statement's start;
/// `$7`: the lifetime (interval text), NULL for none.
pub static UPSERT_ONE: Query = Query {
    name: "upsert_one",
    sql: concat!(
        "INSERT INTO noetl.transient AS t \
           (execution_id, var_name, var_type, var_value, source_step, expires_at) \
          VALUES ($1, $2, $3, $4, $5, \
                  $6::pg_catalog.timestamptz OPERATOR(pg_catalog.+) $7::pg_catalog.interval) \
          ON CONFLICT (execution_id, var_name) DO UPDATE SET ",
        overwrite!("$6::pg_catalog.timestamptz")
    ),
    args: &[INT8, TEXT, TEXT, JSONB, TEXT, TIMESTAMPTZ, TEXT],
};

/// The lifetime of member `e.key` of an object upsert: its own in the object `$6`
/// (`{name: interval text}`), else `$7` for every member, from the statement's start `$5`;
/// NULL for none.
macro_rules! member_expiry {
    () => {
        "$5::pg_catalog.timestamptz OPERATOR(pg_catalog.+) \
         COALESCE($6::pg_catalog.jsonb OPERATOR(pg_catalog.->>) e.key, $7)::pg_catalog.interval"
    };
}

/// Upsert of every member of a JSON object `$2` in one statement, each of type `$var_type`.
/// `jsonb_object_keys` yields keys in jsonb's own order, the same in every session, so
/// concurrent writers of overlapping sets lock rows in one order; each value is `$2 -> key`.
/// (`jsonb_each` gives the same rows, but the executor works its result type out of its OUT
/// parameters in `pg_proc` at every execution: about 6,500 instructions per write.) `$5` is the statement's start; with
/// lifetimes (`$6`, `$7`: see `member_expiry!`) or, for a call without any, none worked out
/// per member.
macro_rules! upsert_members {
    ($var_type:literal) => {
        concat!(
            "INSERT INTO noetl.transient AS t \
               (execution_id, var_name, var_type, var_value, source_step, expires_at) \
              SELECT $1, e.key, ",
            $var_type,
            ", $2::pg_catalog.jsonb OPERATOR(pg_catalog.->) e.key, $4, ",
            member_expiry!(),
            " FROM pg_catalog.jsonb_object_keys($2::pg_catalog.jsonb) AS e(key) \
              ON CONFLICT (execution_id, var_name) DO UPDATE SET ",
            overwrite!("$5::pg_catalog.timestamptz")
        )
    };
    ($var_type:literal, no_ttl) => {
        concat!(
            "INSERT INTO noetl.transient AS t \
               (execution_id, var_name, var_type, var_value, source_step) \
              SELECT $1, e.key, ",
            $var_type,
            ", $2::pg_catalog.jsonb OPERATOR(pg_catalog.->) e.key, $4 \
              FROM pg_catalog.jsonb_object_keys($2::pg_catalog.jsonb) AS e(key) \
              ON CONFLICT (execution_id, var_name) DO UPDATE SET ",
            overwrite!("$5::pg_catalog.timestamptz", no_ttl)
        )
    };
}

/// Each member with the type named in the object `$3` (`{name: var_type}`).
pub static UPSERT_OBJECT: Query = Query {
    name: "upsert_object",
    sql: upsert_members!("$3::pg_catalog.jsonb OPERATOR(pg_catalog.->>) e.key"),
    args: &[INT8, JSONB, JSONB, TEXT, TIMESTAMPTZ, JSONB, TEXT],
};

/// Every member with one type, `$3` (set_vars).
pub static UPSERT_OBJECT_ONE_TYPE: Query = Query {
    name: "upsert_object_one_type",
    sql: upsert_members!("$3"),
    args: &[INT8, JSONB, TEXT, TEXT, TIMESTAMPTZ, JSONB, TEXT],
};

/// [`UPSERT_OBJECT`] and [`UPSERT_OBJECT_ONE_TYPE`] for a call without lifetimes (about
/// 9,000 instructions fewer for the typical step).
pub static UPSERT_OBJECT_NO_TTL: Query = Query {
    name: "upsert_object_no_ttl",
    sql: upsert_members!(
        "$3::pg_catalog.jsonb OPERATOR(pg_catalog.->>) e.key",
        no_ttl
    ),
    args: &[INT8, JSONB, JSONB, TEXT, TIMESTAMPTZ],
};

pub static UPSERT_OBJECT_ONE_TYPE_NO_TTL: Query = Query {
    name: "upsert_object_one_type_no_ttl",
    sql: upsert_members!("$3", no_ttl),
    args: &[INT8, JSONB, TEXT, TEXT, TIMESTAMPTZ],
};

/// One member of an object write done with [`UPSERT_ONE`]: its name, value (sealed where it
/// must be), type, step and lifetime (interval text).
pub struct Member<'a> {
    pub name: &'a str,
    pub value: pg_sys::Datum,
    pub var_type: Option<String>,
    pub source_step: Option<&'a str>,
    pub ttl: Option<String>,
}

/// Writes the members of an object one single-row upsert each, in the object's (jsonb's)
/// order, the order [`UPSERT_OBJECT`] writes them in. This is how object writes run where
/// Citus is loaded: it runs an `INSERT … SELECT` from the object's keys on the coordinator and
/// deparses its `DO UPDATE` for each shard without the parameters, while a single-row
/// `INSERT … VALUES` is routed to its shard whole (docs/scale-out.md).
/// `query` is [`UPSERT_ONE`], or the statement of an extension not updated yet, which takes
/// the first five of its parameters.
pub fn upsert_each<'a>(
    query: &'static Query,
    execution_id: i64,
    members: impl IntoIterator<Item = Member<'a>>,
) {
    for m in members {
        let args = [
            int8_arg(execution_id),
            text_arg(m.name),
            opt_text_arg(m.var_type.as_deref()),
            (m.value, false),
            opt_text_arg(m.source_step),
            statement_start(),
            opt_text_arg(m.ttl.as_deref()),
        ];
        execute(query, &args[..query.args.len()], false);
    }
}
