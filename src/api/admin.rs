//! Functions for operators: purging executions nobody touches any more, and variables whose
//! lifetime has ended; a variable's value at a point in time, from the history.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::{pg_sys, IntoDatum};

use noetl_vars_core::Error;

use crate::backend::errors::{OrRaise, Raise};
use crate::backend::locks::Locks;
use crate::storage::jsonb::PgJsonb;
use crate::storage::sealed::{self, Row};
use crate::storage::spi::{execute, Connection};
use crate::storage::{events, legacy_queries, queries};

/// `older_than` as a bound argument and `max_executions`, both checked.
fn purge_arguments(
    older_than: Option<Interval>,
    max_executions: Option<i32>,
) -> ((pg_sys::Datum, bool), i32) {
    let older_than = older_than
        .ok_or_else(|| Error::null_argument("older_than"))
        .or_raise();
    if older_than.micros() < 0 || older_than.days() < 0 || older_than.months() < 0 {
        Error::invalid("older_than must not be negative").raise();
    }
    let max_executions = max_executions
        .ok_or_else(|| Error::null_argument("max_executions"))
        .or_raise();
    if max_executions < 1 {
        Error::invalid("max_executions must be at least 1").raise();
    }
    let interval = (
        older_than
            .into_datum()
            .unwrap_or(pg_sys::Datum::from(0usize)),
        false,
    );
    (interval, max_executions)
}

/// Deletes the variables of executions whose every variable was last written or read longer
/// than `older_than` ago, at most `max_executions` per call (oldest first), and returns what
/// it removed. An execution that is in use right now is skipped, never waited for.
#[pg_extern(volatile, parallel_unsafe)]
fn purge_stale(
    older_than: Option<Interval>,
    max_executions: default!(Option<i32>, 1000),
) -> TableIterator<
    'static,
    (
        name!(execution_id, i64),
        name!(variables, i32),
        name!(last_activity, TimestampWithTimeZone),
    ),
> {
    let (interval, max_executions) = purge_arguments(older_than, max_executions);
    let _conn = Connection::open();
    let stale = execute(
        &queries::STALE_EXECUTIONS,
        &[interval, (pg_sys::Datum::from(max_executions), false)],
        false,
    );
    let candidates: Vec<i64> = (0..stale.len())
        .filter_map(|i| stale.get(i, 1).map(|d| d.value() as i64))
        .collect();
    let mut removed = Vec::new();
    for execution_id in candidates {
        // Someone holding a lock on it is using it: not stale after all.
        let Some(whole) = Locks::try_whole(execution_id).or_raise() else {
            continue;
        };
        let cleanup = crate::capture::watch::Cleanup::begin();
        let rows = execute(
            &queries::PURGE_EXECUTION,
            &[(pg_sys::Datum::from(execution_id), false), interval],
            false,
        );
        drop(cleanup);
        let count = rows.get(0, 1).map(|d| d.value() as i32).unwrap_or(0);
        if count > 0 {
            events::forget(execution_id);
        }
        // The deleted rows stay locked until commit; the execution lock is given back so
        // that a purge of thousands of executions holds one at a time, not thousands.
        whole.release();
        if count == 0 {
            continue;
        }
        let last = rows
            .get(0, 2)
            // SAFETY: the statement's second column is a timestamptz.
            .and_then(|d| unsafe { TimestampWithTimeZone::from_datum(d, false) });
        if let Some(last) = last {
            removed.push((execution_id, count, last));
        }
    }
    removed.extend(purge_expired_rows());
    TableIterator::new(removed)
}

/// How many variables whose lifetime has ended `purge_stale` deletes besides whole
/// executions, per call (the default batch of `noetl.purge_expired`).
const EXPIRED_PER_PURGE: i32 = 10_000;

/// Deletes expired variables of executions that are not stale (the stale ones went whole);
/// per execution, how many and their last activity. Nothing on a table without lifetimes
/// (an extension not updated yet).
fn purge_expired_rows() -> Vec<(i64, i32, TimestampWithTimeZone)> {
    if !legacy_queries::lifetimes() {
        return Vec::new();
    }
    let rows = execute(
        &queries::PURGE_EXPIRED_ROWS,
        &[(pg_sys::Datum::from(EXPIRED_PER_PURGE), false)],
        false,
    );
    let purged: Vec<(i64, i32, TimestampWithTimeZone)> = (0..rows.len())
        .filter_map(|i| {
            let execution_id = rows.get(i, 1)?.value() as i64;
            let count = rows.get(i, 2)?.value() as i32;
            // SAFETY: the statement's third column is a timestamptz.
            let last = unsafe { TimestampWithTimeZone::from_datum(rows.get(i, 3)?, false) }?;
            Some((execution_id, count, last))
        })
        .collect();
    for (execution_id, _, _) in &purged {
        events::forget_if_empty(*execution_id);
    }
    purged
}

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
