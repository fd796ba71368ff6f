//! Checks of the arguments every SQL function shares, and the conditions a call runs under.

use noetl_vars_core::output::OutValue;
use noetl_vars_core::validate;
use noetl_vars_core::{Error, ErrorKind};
use pgrx::pg_sys;

use crate::errors::OrRaise;
use crate::guc;
use crate::jsonb::{self, PgJsonb};
use crate::locks::{Locks, Request};

/// The execution id argument, which every function requires (SQL NULL is 22004).
pub fn execution_id(execution_id: Option<i64>) -> i64 {
    execution_id
        .ok_or_else(|| Error::null_argument("execution_id"))
        .or_raise()
}

/// Refuses a value larger than `noetl_vars.max_value_bytes`, or nested deeper than
/// PostgreSQL reads back ([`jsonb::MAX_STORED_DEPTH`]); `what` names it in the error.
pub fn check_stored_value(value: &PgJsonb, what: impl FnOnce() -> String) -> Result<(), Error> {
    match jsonb::stored_depth_beyond(value, jsonb::MAX_STORED_DEPTH) {
        Some(depth) => too_deep(depth, what),
        None => too_large(value.size(), what),
    }
}

/// The same for a value that is not built yet (measured only when it might be too large or
/// too deep).
pub fn check_output_value(value: &OutValue, what: impl FnOnce() -> String) -> Result<(), Error> {
    if let Some(depth) = jsonb::depth_beyond(value, jsonb::MAX_STORED_DEPTH) {
        return too_deep(depth, what);
    }
    match jsonb::size_beyond(value, guc::max_value_bytes()) {
        Some(size) => too_large(size, what),
        None => Ok(()),
    }
}

fn too_deep(depth: usize, what: impl FnOnce() -> String) -> Result<(), Error> {
    let limit = jsonb::MAX_STORED_DEPTH;
    Err(Error::new(
        ErrorKind::TooComplex,
        format!(
            "{} nests more than {limit} levels deep ({depth} or more)",
            what()
        ),
    )
    .with_detail("PostgreSQL could not read such a value back: pg_restore would fail on it.")
    .with_hint("store a flatter value"))
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
pub fn checked_source_step(source_step: Option<&str>) -> Option<&str> {
    if let Some(step) = source_step {
        validate::check_name("source_step", step).or_raise();
    }
    source_step
}
