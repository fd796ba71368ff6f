//! A variable's value at a point in time, from the history, for operators (the purges are in
//! [`super::purge`]).

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::{pg_sys, IntoDatum};

use crate::storage::jsonb::PgJsonb;
use crate::storage::queries;
use crate::storage::sealed::{self, Row};
use crate::storage::spi::{execute, Connection};

/// The value a variable had at `at`, from the history (`noetl_vars.track_history`): SQL NULL
/// when it did not exist then, had been deleted, or history was off. A value stored sealed
/// (docs/encryption.md) is returned decrypted, as `get_var` returns it.
#[pg_extern(stable, parallel_restricted)]
fn var_at(execution_id: i64, var_name: &str, at: TimestampWithTimeZone) -> Option<PgJsonb> {
    let conn = Connection::open();
    let rows = execute(
        &queries::VAR_AT,
        &[
            (pg_sys::Datum::from(execution_id), false),
            (var_name.into_datum()?, false),
            (at.into_datum()?, false),
        ],
        true,
    );
    let datum = rows.get(0, 1)?;
    Some(conn.in_caller(|| {
        // SAFETY: new_value is a jsonb column, not null here.
        let stored = unsafe { PgJsonb::copy_of(datum) };
        sealed::open(&Row::Transient(execution_id), var_name, stored)
    }))
}
