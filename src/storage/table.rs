//! Typed reads and writes of `noetl.transient` through the statements of [`crate::storage::queries`].
//! Every function here needs an open [`crate::storage::spi::Connection`].

use std::sync::Arc;

use noetl_vars_core::doc::{self, DocRef};
use noetl_vars_core::shape::VarRow;
use noetl_vars_core::ttl::Ttl;
use noetl_vars_core::{Error, ErrorKind};
use pgrx::pg_sys;

use crate::backend::citus;
use crate::backend::errors::Raise;
use crate::storage::datum;
use crate::storage::direct::probe;
use crate::storage::jsonb::{Lifetime, PgJsonb};
use crate::storage::legacy_queries::{self, pick};
use crate::storage::queries;
use crate::storage::sealed::{self, Row};
use crate::storage::spi::{execute, Query, Rows};
use crate::storage::upserts::{self, statement_start, UPSERT_ONE};

pub(crate) use crate::storage::spi::{array_arg, int8_arg, opt_text_arg, text_arg, Arg};

/// One variable to write.
pub struct Write<'a> {
    pub name: &'a str,
    pub var_type: &'a str,
    pub value: PgJsonb,
}

/// The lifetimes of one write (docs/operations.md, "Lifetimes"): one for every variable, and
/// some by name (`{name: interval text}`), which win.
#[derive(Default)]
pub struct Expiry {
    pub all: Option<Ttl>,
    pub each: Option<PgJsonb>,
}

impl Expiry {
    fn is_none(&self) -> bool {
        self.all.is_none() && self.each.is_none()
    }

    fn args(&self) -> [Arg; 2] {
        [
            match self.each {
                Some(each) => (each.datum(), false),
                None => (pg_sys::Datum::from(0usize), true),
            },
            opt_text_arg(self.all.map(|t| t.interval_text()).as_deref()),
        ]
    }
}

/// The statement for a table with lifetimes (`live`), or the pre-0.6.0 one; a lifetime on a
/// table without `expires_at` is refused rather than dropped.
fn pick_write(legacy: &'static Query, live: &'static Query, expiry: &Expiry) -> &'static Query {
    let query = pick(legacy, live);
    if !expiry.is_none() && std::ptr::eq(query, legacy) {
        Error::new(
            ErrorKind::PrerequisiteState,
            "noetl.transient has no expires_at column, so a variable cannot be given a lifetime",
        )
        .with_hint("the extension's library is newer than its objects: run ALTER EXTENSION noetl_vars UPDATE")
        .raise();
    }
    query
}

/// Upserts one variable.
pub fn upsert_one(
    execution_id: i64,
    write: &Write<'_>,
    source_step: Option<&str>,
    ttl: Option<Ttl>,
) {
    let row = Row::Transient(execution_id);
    let value = sealed::seal_value(&row, execution_id, None, write.name, write.value);
    let expiry = Expiry {
        all: ttl,
        each: None,
    };
    let query = pick_write(
        &legacy_queries::UPSERT_ONE_LEGACY,
        &queries::UPSERT_ONE,
        &expiry,
    );
    let [_, ttl] = expiry.args();
    let args = [
        int8_arg(execution_id),
        text_arg(write.name),
        text_arg(write.var_type),
        (value.datum(), false),
        opt_text_arg(source_step),
        statement_start(),
        ttl,
    ];
    execute(query, &args[..query.args.len()], false);
}

/// The types of the variables of one write.
pub enum Types<'a> {
    /// Every variable has this type.
    All(&'a str),
    /// A JSON object `{name: var_type}`.
    Each(PgJsonb),
}

/// Upserts every member of the JSON object `values` in one statement (in a call given
/// `playbook`, which may make some sensitive).
pub fn upsert_object(
    execution_id: i64,
    values: PgJsonb,
    types: Types<'_>,
    source_step: Option<&str>,
    expiry: &Expiry,
    playbook: Option<&str>,
) {
    let values = sealed::seal_members(
        &Row::Transient(execution_id),
        execution_id,
        playbook,
        values,
    );
    if citus::loaded() {
        return upsert_each(execution_id, values, &types, source_step, expiry);
    }
    let none = expiry.is_none();
    let (query, types) = match types {
        Types::All(t) => (
            pick_write(
                &legacy_queries::UPSERT_OBJECT_ONE_TYPE_LEGACY,
                if none {
                    &queries::UPSERT_OBJECT_ONE_TYPE_NO_TTL
                } else {
                    &queries::UPSERT_OBJECT_ONE_TYPE
                },
                expiry,
            ),
            text_arg(t),
        ),
        Types::Each(object) => (
            pick_write(
                &legacy_queries::UPSERT_OBJECT_LEGACY,
                if none {
                    &queries::UPSERT_OBJECT_NO_TTL
                } else {
                    &queries::UPSERT_OBJECT
                },
                expiry,
            ),
            (object.datum(), false),
        ),
    };
    let [each, all] = expiry.args();
    let args = [
        int8_arg(execution_id),
        (values.datum(), false),
        types,
        opt_text_arg(source_step),
        statement_start(),
        each,
        all,
    ];
    execute(query, &args[..query.args.len()], false);
}

/// [`upsert_object`] one member at a time ([`upserts::upsert_each`]), where Citus is loaded.
fn upsert_each(
    execution_id: i64,
    values: PgJsonb,
    types: &Types<'_>,
    source_step: Option<&str>,
    expiry: &Expiry,
) {
    let life = Lifetime::new();
    let text_of = |object: Option<PgJsonb>, name: &str| {
        object.and_then(|o| o.doc(&life).get(name).and_then(|v| doc::as_str(&v)))
    };
    let members = values.members();
    let query = pick_write(&legacy_queries::UPSERT_ONE_LEGACY, &UPSERT_ONE, expiry);
    upserts::upsert_each(
        query,
        execution_id,
        members.iter().map(|(name, value)| upserts::Member {
            name,
            value: value.datum(),
            var_type: match types {
                Types::All(t) => Some(t.to_string()),
                Types::Each(object) => text_of(Some(*object), name),
            },
            source_step,
            ttl: text_of(expiry.each, name).or_else(|| expiry.all.map(|t| t.interval_text())),
        }),
    );
}

/// Row `i` of a statement returning `var_name, var_value, var_type, source_step,
/// created_at, accessed_at, access_count` (all of `noetl.transient`'s typed columns); a
/// sealed value decrypted when `opened` holds the execution's id, left sealed otherwise.
fn row(rows: &Rows, i: usize, life: &Arc<Lifetime>, opened: Option<i64>) -> Option<VarRow> {
    // SAFETY: every statement read here returns the columns in this order with these types
    // (text, jsonb, text, text, timestamptz, timestamptz, int4), and Rows::get gives only
    // non-null datums.
    unsafe {
        let value = <PgJsonb as pgrx::FromDatum>::from_datum(rows.get(i, 2)?, false)?;
        let name = datum::text(rows.get(i, 1)?);
        let value = match opened {
            Some(id) => sealed::open(&Row::Transient(id), &name, value),
            None => value,
        };
        Some(VarRow {
            name,
            value: value.doc(life),
            var_type: datum::text(rows.get(i, 3)?),
            source_step: rows.get(i, 4).map(|d| datum::text(d)),
            created_at: datum::iso_timestamp(rows.get(i, 5)?),
            accessed_at: datum::iso_timestamp(rows.get(i, 6)?),
            access_count: rows
                .get(i, 7)
                .map(|d| d.value() as i32 as i64)
                .unwrap_or_default(),
        })
    }
}

/// One variable with its metadata, untracked, a sealed value left sealed.
pub fn read_row(execution_id: i64, name: &str, life: &Arc<Lifetime>) -> Option<VarRow> {
    let rows = execute(
        pick(&legacy_queries::READ_ROW_LEGACY, &queries::READ_ROW),
        &[int8_arg(execution_id), text_arg(name)],
        true,
    );
    row(&rows, 0, life, None)
}

/// Inserts a placeholder for `name` (see [`queries::INSERT_PLACEHOLDER`]); false when the
/// variable exists after all.
pub fn insert_placeholder(
    execution_id: i64,
    name: &str,
    var_type: &str,
    source_step: Option<&str>,
) -> bool {
    crate::capture::changes::placeholder(execution_id, name);
    let rows = execute(
        &queries::INSERT_PLACEHOLDER,
        &[
            int8_arg(execution_id),
            text_arg(name),
            text_arg(var_type),
            opt_text_arg(source_step),
        ],
        false,
    );
    rows.len() == 1
}

/// A tracked read: counts it and returns the row after the increment, a sealed value left
/// sealed.
pub fn tracked_read(execution_id: i64, name: &str, life: &Arc<Lifetime>) -> Option<VarRow> {
    let rows = execute(
        pick(&legacy_queries::TRACKED_READ_LEGACY, &queries::TRACKED_READ),
        &[int8_arg(execution_id), text_arg(name)],
        false,
    );
    row(&rows, 0, life, None)
}

/// The raw value datum of a variable, for returning it unchanged: a tracked read, or an
/// untracked one (`tracked` false: read-only transactions and hot standbys).
pub fn value_datum(execution_id: i64, name: &str, tracked: bool) -> Option<pg_sys::Datum> {
    let query = if tracked {
        pick(&legacy_queries::TRACKED_READ_LEGACY, &queries::TRACKED_READ)
    } else {
        pick(&legacy_queries::READ_ONE_LEGACY, &queries::READ_ONE)
    };
    let rows = execute(query, &[int8_arg(execution_id), text_arg(name)], !tracked);
    rows.get(0, 2)
}

/// Every variable with metadata, oldest first, untracked; sealed values decrypted when
/// `opened`, left sealed otherwise.
pub fn read_all(execution_id: i64, life: &Arc<Lifetime>, opened: bool) -> Vec<VarRow> {
    let rows = execute(
        pick(&legacy_queries::READ_ALL_LEGACY, &queries::READ_ALL),
        &[int8_arg(execution_id)],
        true,
    );
    let opened = opened.then_some(execution_id);
    (0..rows.len())
        .filter_map(|i| row(&rows, i, life, opened))
        .collect()
}

/// The values of `names` that exist, untracked; `locked` locks their rows for the caller's
/// write. A few names are read one primary-key lookup each (the cheapest statement to
/// start); more in one statement.
pub fn read_some(
    execution_id: i64,
    names: &[&str],
    locked: bool,
    life: &Arc<Lifetime>,
) -> Vec<(String, DocRef)> {
    const ONE_BY_ONE: usize = 4;
    let found = |rows: &Rows, i: usize| -> Option<(String, DocRef)> {
        // SAFETY: the statements return (var_name text, var_value jsonb), non-null.
        unsafe {
            let name = datum::text(rows.get(i, 1)?);
            let value = <PgJsonb as pgrx::FromDatum>::from_datum(rows.get(i, 2)?, false)?;
            let value = sealed::open(&Row::Transient(execution_id), &name, value);
            Some((name, value.doc(life)))
        }
    };
    if names.len() <= ONE_BY_ONE {
        let one = std::cell::OnceCell::new();
        return names
            .iter()
            .filter_map(|name| {
                let mode = if locked {
                    probe::Mode::Lock
                } else {
                    probe::Mode::Read
                };
                if let Some(value) = probe::variable(execution_id, name, mode) {
                    // SAFETY: a non-null jsonb datum, copied for the connection.
                    let value = unsafe { <PgJsonb as pgrx::FromDatum>::from_datum(value?, false)? };
                    let value = sealed::open(&Row::Transient(execution_id), name, value);
                    return Some((name.to_string(), value.doc(life)));
                }
                let one = one.get_or_init(|| read_one_query(locked));
                let rows = execute(one, &[int8_arg(execution_id), text_arg(name)], false);
                found(&rows, 0)
            })
            .collect();
    }
    let some = if locked {
        pick(
            &legacy_queries::READ_SOME_LOCKED_LEGACY,
            &queries::READ_SOME_LOCKED,
        )
    } else {
        pick(&legacy_queries::READ_SOME_LEGACY, &queries::READ_SOME)
    };
    let mut datums: Vec<pg_sys::Datum> = names.iter().map(|n| text_arg(n).0).collect();
    let rows = execute(
        some,
        &[
            int8_arg(execution_id),
            array_arg(&mut datums, pg_sys::TEXTOID),
        ],
        false,
    );
    (0..rows.len()).filter_map(|i| found(&rows, i)).collect()
}

/// The statement reading one variable (locked or not).
fn read_one_query(locked: bool) -> &'static Query {
    if locked {
        pick(
            &legacy_queries::READ_ONE_LOCKED_LEGACY,
            &queries::READ_ONE_LOCKED,
        )
    } else {
        pick(&legacy_queries::READ_ONE_LEGACY, &queries::READ_ONE)
    }
}

/// The names of all variables, oldest first.
pub fn names(execution_id: i64) -> Vec<String> {
    let rows = execute(
        pick(&legacy_queries::NAMES_LEGACY, &queries::NAMES),
        &[int8_arg(execution_id)],
        false,
    );
    (0..rows.len())
        // SAFETY: the statement returns var_name, a non-null text column.
        .filter_map(|i| rows.get(i, 1).map(|d| unsafe { datum::text(d) }))
        .collect()
}

/// Deletes one variable; whether it existed.
pub fn delete_one(execution_id: i64, name: &str) -> bool {
    execute(
        &queries::DELETE_ONE,
        &[int8_arg(execution_id), text_arg(name)],
        false,
    )
    .processed()
        > 0
}

/// Deletes every variable of an execution; how many there were.
pub fn delete_all(execution_id: i64) -> usize {
    execute(&queries::DELETE_ALL, &[int8_arg(execution_id)], false).processed()
}
