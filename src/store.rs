//! The store functions (SPEC §3): parity with the NoETL server's `TransientVars`.

use noetl_vars_core::block::describe;
use noetl_vars_core::doc::View;
use noetl_vars_core::output::OutValue;
use noetl_vars_core::validate::{self, quote, VarType};
use noetl_vars_core::{shape, Error, ErrorKind};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{OrRaise, Raise};
use crate::guc;
use crate::jsonb::{self, Lifetime, PgJsonb};
use crate::locks::{Locks, Request};
use crate::spi::Connection;
use crate::table::{self, Types, Write};

pub fn execution(execution_id: Option<i64>) -> i64 {
    execution_id
        .ok_or_else(|| Error::null_argument("execution_id"))
        .or_raise()
}

/// Refuses a value larger than `noetl_vars.max_value_bytes`; `what` names it in the error.
pub fn check_size(value: &PgJsonb, what: impl FnOnce() -> String) -> Result<(), Error> {
    too_large(value.size(), what)
}

/// The same for a value that is not built yet (measured only when it might be too large).
pub fn check_out_size(value: &OutValue, what: impl FnOnce() -> String) -> Result<(), Error> {
    match jsonb::size_if_over(value, guc::max_value_bytes()) {
        Some(size) => too_large(size, what),
        None => Ok(()),
    }
}

fn too_large(size: usize, what: impl FnOnce() -> String) -> Result<(), Error> {
    let limit = guc::max_value_bytes();
    if size > limit {
        return Err(Error::new(
            ErrorKind::ValueTooLarge,
            format!(
                "{} is {size} bytes, more than noetl_vars.max_value_bytes ({limit})",
                what()
            ),
        )
        .with_hint("store less, or raise noetl_vars.max_value_bytes"));
    }
    Ok(())
}

/// Locks `names` for writing (see [`crate::locks`]).
pub fn lock_names<'a>(execution_id: i64, names: impl IntoIterator<Item = &'a str>) -> Locks {
    Locks::acquire(execution_id, &Request::write(names)).or_raise()
}

/// Whether this transaction may write: not on a hot standby, not in a read-only
/// transaction. Where it may not, reads are not counted (NoETL reads replicas).
pub fn can_write() -> bool {
    // SAFETY: a backend global and a function without preconditions.
    unsafe { !pg_sys::XactReadOnly && !pg_sys::RecoveryInProgress() }
}

/// Checks an optional `source_step` like a step name.
pub fn source_step(source_step: Option<&str>) -> Option<&str> {
    if let Some(step) = source_step {
        validate::check_name("source_step", step).or_raise();
    }
    source_step
}

/// Creates or overwrites one variable.
#[pg_extern(volatile, parallel_unsafe)]
fn set_var(
    execution_id: Option<i64>,
    var_name: Option<&str>,
    var_value: Option<PgJsonb>,
    var_type: default!(Option<&str>, "'user_defined'"),
    source_step: default!(Option<&str>, "NULL"),
) {
    let execution_id = execution(execution_id);
    let name = validate::var_name(var_name).or_raise();
    let value = var_value
        .ok_or_else(|| {
            Error::null_argument("var_value").with_hint(
                "a JSON null is stored as 'null'::jsonb; to remove a variable use noetl.delete_var",
            )
        })
        .or_raise();
    let var_type = VarType::parse(var_type).or_raise();
    let source_step = self::source_step(source_step);
    check_size(&value, || format!("the value of {}", quote(name))).or_raise();
    let _conn = Connection::open();
    let _locks = lock_names(execution_id, [name]);
    table::upsert_one(
        execution_id,
        &Write {
            name,
            var_type: var_type.as_str(),
            value,
        },
        source_step,
    );
}

/// A tracked read of one variable's value: SQL NULL when it does not exist. Where nothing can
/// be written (a hot standby, a read-only transaction) the value is returned uncounted.
#[pg_extern(volatile, parallel_unsafe)]
fn get_var(execution_id: Option<i64>, var_name: Option<&str>) -> Option<PgJsonb> {
    let execution_id = execution(execution_id);
    let name = validate::var_name(var_name).or_raise();
    let conn = Connection::open();
    let tracked = can_write();
    // A tracked read row-locks the variable: it takes the writers' lock first, in their order.
    let _locks = tracked.then(|| lock_names(execution_id, [name]));
    let datum = table::value_datum(execution_id, name, tracked)?;
    // SAFETY: var_value is a non-null jsonb column.
    Some(conn.in_caller(|| unsafe { PgJsonb::copy_of(datum) }))
}

/// Every variable of an execution as `{name: value}`, untracked.
#[pg_extern(stable, parallel_restricted)]
fn get_all_vars(execution_id: Option<i64>) -> PgJsonb {
    let execution_id = execution(execution_id);
    let conn = Connection::open();
    let life = Lifetime::new();
    let rows = table::read_all(execution_id, &life, true);
    let body = OutValue::Object(
        rows.into_iter()
            .map(|r| (r.name, OutValue::Doc(r.value)))
            .collect(),
    );
    conn.in_caller(|| jsonb::build(&body))
}

/// Upserts every member of `variables` in one statement: all or nothing.
#[pg_extern(volatile, parallel_unsafe)]
fn set_vars(
    execution_id: Option<i64>,
    variables: Option<PgJsonb>,
    var_type: default!(Option<&str>, "'user_defined'"),
    source_step: default!(Option<&str>, "NULL"),
) -> PgJsonb {
    let execution_id = execution(execution_id);
    let variables = variables
        .ok_or_else(|| Error::null_argument("variables"))
        .or_raise();
    let var_type = VarType::parse(var_type).or_raise();
    let source_step = self::source_step(source_step);
    let conn = Connection::open();
    let life = Lifetime::new();
    let doc = variables.doc(&life);
    let hint = "pass a JSON object of name: value pairs, e.g. '{\"attempt\": 1}'";
    match doc.view() {
        View::Object(0) => Error::invalid("variables must not be empty")
            .with_hint(hint)
            .raise(),
        View::Object(_) => {}
        other => Error::invalid(format!(
            "variables must be a JSON object, not {}",
            describe(&other)
        ))
        .with_hint(hint)
        .raise(),
    }
    let names = doc.keys();
    for (i, name) in names.iter().enumerate() {
        if i % 1024 == 1023 {
            pgrx::check_for_interrupts!();
        }
        validate::check_name("variable name", name)
            .map_err(|e| Error::new(e.kind, format!("{} ({})", e.message, quote(name))))
            .or_raise();
        if let Some(value) = doc.get(name) {
            check_out_size(&OutValue::Doc(value), || {
                format!("the value of {}", quote(name))
            })
            .or_raise();
        }
    }
    let _locks = lock_names(execution_id, names.iter().map(String::as_str));
    table::upsert_object(
        execution_id,
        variables,
        Types::All(var_type.as_str()),
        source_step,
    );
    let body = shape::set_vars(execution_id, &names);
    conn.in_caller(|| jsonb::build(&body))
}

/// Deletes one variable; true when it existed.
#[pg_extern(volatile, parallel_unsafe)]
fn delete_var(execution_id: Option<i64>, var_name: Option<&str>) -> bool {
    let execution_id = execution(execution_id);
    let name = validate::var_name(var_name).or_raise();
    let _conn = Connection::open();
    let _locks = lock_names(execution_id, [name]);
    table::delete_one(execution_id, name)
}

/// Deletes every variable of an execution; how many there were.
#[pg_extern(volatile, parallel_unsafe)]
fn cleanup_execution(execution_id: Option<i64>) -> i32 {
    let execution_id = execution(execution_id);
    let _conn = Connection::open();
    let _locks = Locks::whole(execution_id).or_raise();
    let deleted = table::delete_all(execution_id);
    i32::try_from(deleted).unwrap_or(i32::MAX)
}
