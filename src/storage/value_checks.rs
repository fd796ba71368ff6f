//! The checks every write path applies to a value before storing it: no larger than
//! `noetl_vars.max_value_bytes`, no deeper than PostgreSQL reads back
//! ([`crate::storage::jsonb::MAX_STORED_DEPTH`]). A value not built yet is measured only when
//! a cheap bound says it might fail.

use noetl_vars_core::output::OutValue;
use noetl_vars_core::{Error, ErrorKind};

use crate::backend::guc;
use crate::storage::jsonb::{self, PgJsonb};

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
