//! Typed reads and writes of `noetl.transient` through the statements of [`crate::queries`].
//! Every function here needs an open [`crate::spi::Connection`].

use std::sync::Arc;

use noetl_vars_core::doc::DocRef;
use noetl_vars_core::shape::VarRow;
use pgrx::pg_sys;
use pgrx::IntoDatum;

use crate::jsonb::{self, Lifetime, PgJsonb};
use crate::queries;
use crate::spi::{execute, Rows};

type Arg = (pg_sys::Datum, bool);

fn int8(v: i64) -> Arg {
    (pg_sys::Datum::from(v), false)
}

fn text(v: &str) -> Arg {
    match v.into_datum() {
        Some(d) => (d, false),
        None => (pg_sys::Datum::from(0usize), true),
    }
}

fn opt_text(v: Option<&str>) -> Arg {
    match v {
        Some(s) => text(s),
        None => (pg_sys::Datum::from(0usize), true),
    }
}

fn array(datums: &mut [pg_sys::Datum], element: pg_sys::Oid) -> Arg {
    let array = unsafe {
        pg_sys::construct_array(
            datums.as_mut_ptr(),
            datums.len() as i32,
            element,
            -1,
            false,
            pg_sys::TYPALIGN_INT as std::ffi::c_char,
        )
    };
    (pg_sys::Datum::from(array), false)
}

/// One variable to write.
pub struct Write<'a> {
    pub name: &'a str,
    pub var_type: &'a str,
    pub value: PgJsonb,
}

/// Upserts one variable.
pub fn upsert_one(execution_id: i64, write: &Write<'_>, source_step: Option<&str>) {
    execute(
        &queries::UPSERT_ONE,
        &[
            int8(execution_id),
            text(write.name),
            text(write.var_type),
            (write.value.datum(), false),
            opt_text(source_step),
        ],
        false,
    );
}

/// The types of the variables of one write.
pub enum Types<'a> {
    /// Every variable has this type.
    All(&'a str),
    /// A JSON object `{name: var_type}`.
    Each(PgJsonb),
}

/// Upserts every member of the JSON object `values` in one statement.
pub fn upsert_object(
    execution_id: i64,
    values: PgJsonb,
    types: Types<'_>,
    source_step: Option<&str>,
) {
    let (query, types) = match types {
        Types::All(t) => (&queries::UPSERT_OBJECT_ONE_TYPE, text(t)),
        Types::Each(object) => (&queries::UPSERT_OBJECT, (object.datum(), false)),
    };
    execute(
        query,
        &[
            int8(execution_id),
            (values.datum(), false),
            types,
            opt_text(source_step),
        ],
        false,
    );
}

fn row(rows: &Rows, i: usize, life: &Arc<Lifetime>) -> Option<VarRow> {
    let name = jsonb::text(rows.get(i, 1)?);
    let value = unsafe { <PgJsonb as pgrx::FromDatum>::from_datum(rows.get(i, 2)?, false)? };
    Some(VarRow {
        name,
        value: value.doc(life),
        var_type: jsonb::text(rows.get(i, 3)?),
        source_step: rows.get(i, 4).map(jsonb::text),
        created_at: jsonb::iso_timestamp(rows.get(i, 5)?),
        accessed_at: jsonb::iso_timestamp(rows.get(i, 6)?),
        access_count: rows
            .get(i, 7)
            .map(|d| d.value() as i32 as i64)
            .unwrap_or_default(),
    })
}

/// A tracked read: counts it and returns the row after the increment.
pub fn tracked_read(execution_id: i64, name: &str, life: &Arc<Lifetime>) -> Option<VarRow> {
    let rows = execute(
        &queries::TRACKED_READ,
        &[int8(execution_id), text(name)],
        false,
    );
    row(&rows, 0, life)
}

/// The raw value datum of a tracked read, for returning it unchanged.
pub fn tracked_value(execution_id: i64, name: &str) -> Option<pg_sys::Datum> {
    let rows = execute(
        &queries::TRACKED_READ,
        &[int8(execution_id), text(name)],
        false,
    );
    rows.get(0, 2)
}

/// Every variable with metadata, oldest first, untracked.
pub fn read_all(execution_id: i64, life: &Arc<Lifetime>, read_only: bool) -> Vec<VarRow> {
    let rows = execute(&queries::READ_ALL, &[int8(execution_id)], read_only);
    (0..rows.len())
        .filter_map(|i| row(&rows, i, life))
        .collect()
}

/// The values of `names` that exist, untracked. A few names are read one primary-key lookup
/// each (the cheapest statement to start); more in one statement.
pub fn read_some(execution_id: i64, names: &[&str], life: &Arc<Lifetime>) -> Vec<(String, DocRef)> {
    const ONE_BY_ONE: usize = 4;
    let found = |rows: &Rows, i: usize| -> Option<(String, DocRef)> {
        let name = jsonb::text(rows.get(i, 1)?);
        let value = unsafe { <PgJsonb as pgrx::FromDatum>::from_datum(rows.get(i, 2)?, false)? };
        Some((name, value.doc(life)))
    };
    if names.len() <= ONE_BY_ONE {
        return names
            .iter()
            .filter_map(|name| {
                let rows = execute(&queries::READ_ONE, &[int8(execution_id), text(name)], false);
                found(&rows, 0)
            })
            .collect();
    }
    let mut datums: Vec<pg_sys::Datum> = names.iter().map(|n| text(n).0).collect();
    let rows = execute(
        &queries::READ_SOME,
        &[int8(execution_id), array(&mut datums, pg_sys::TEXTOID)],
        false,
    );
    (0..rows.len()).filter_map(|i| found(&rows, i)).collect()
}

/// The names of all variables, oldest first.
pub fn names(execution_id: i64) -> Vec<String> {
    let rows = execute(&queries::NAMES, &[int8(execution_id)], false);
    (0..rows.len())
        .filter_map(|i| rows.get(i, 1).map(jsonb::text))
        .collect()
}

/// Deletes one variable; whether it existed.
pub fn delete_one(execution_id: i64, name: &str) -> bool {
    execute(
        &queries::DELETE_ONE,
        &[int8(execution_id), text(name)],
        false,
    )
    .processed()
        > 0
}

/// Deletes every variable of an execution; how many there were.
pub fn delete_all(execution_id: i64) -> usize {
    execute(&queries::DELETE_ALL, &[int8(execution_id)], false).processed()
}
