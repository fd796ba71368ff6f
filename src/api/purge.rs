//! The purges, for operators: whole executions nobody touched for a while (`purge_stale`, one
//! of them `purge_execution`) and variables whose lifetime has ended (`purge_expired`). None
//! waits for a call in progress: an execution in use, or a row another transaction holds, is
//! skipped and left to the next run.
//!
//! Where Citus has distributed `noetl.transient` (docs/scale-out.md), the calls of an
//! execution take their locks on the worker holding it, or on the coordinator when made inside
//! a transaction block, and a statement spanning shards may lock no row. So the coordinator
//! finds the candidates without locks, takes its own lock on each execution, and has
//! `noetl.purge_execution` purge it on its worker (where the same lock is tried again); the
//! expired variables are deleted one execution at a time.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::{pg_sys, IntoDatum};

use noetl_vars_core::{Error, ErrorKind};

use crate::backend::citus;
use crate::backend::errors::{OrRaise, Raise};
use crate::backend::locks::Locks;
use crate::storage::purge_queries as purges;
use crate::storage::spi::{execute, int8_arg, Arg, Connection, Rows};
use crate::storage::{events, legacy_queries};

/// How many variables whose lifetime has ended `purge_stale` deletes besides whole
/// executions, per call (the default batch of `noetl.purge_expired`).
const EXPIRED_PER_PURGE: i32 = 10_000;

/// What was purged of one execution: its id, how many variables, their last activity.
type Purged = (i64, i32, TimestampWithTimeZone);

/// `older_than`, checked, as a bound argument.
fn age_argument(older_than: Option<Interval>) -> Arg {
    let older_than = older_than
        .ok_or_else(|| Error::null_argument("older_than"))
        .or_raise();
    if older_than.micros() < 0 || older_than.days() < 0 || older_than.months() < 0 {
        Error::invalid("older_than must not be negative").raise();
    }
    (
        older_than
            .into_datum()
            .unwrap_or(pg_sys::Datum::from(0usize)),
        false,
    )
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
    let age = age_argument(older_than);
    let max_executions = max_executions
        .ok_or_else(|| Error::null_argument("max_executions"))
        .or_raise();
    if max_executions < 1 {
        Error::invalid("max_executions must be at least 1").raise();
    }
    let _conn = Connection::open();
    let distributed = must_delegate();
    let stale = execute(
        &purges::STALE_EXECUTIONS,
        &[age, (pg_sys::Datum::from(max_executions), false)],
        false,
    );
    let mut removed = Vec::new();
    for execution_id in first_column(&stale) {
        // Someone holding a lock on it is using it: not stale after all.
        let Some(whole) = Locks::try_whole(execution_id).or_raise() else {
            continue;
        };
        let purged = if distributed {
            one_row(&execute(
                &purges::PURGE_DELEGATED,
                &[int8_arg(execution_id), age],
                false,
            ))
        } else {
            purge_here(execution_id, age)
        };
        // The deleted rows stay locked until commit; the execution lock is given back so
        // that a purge of thousands of executions holds one at a time, not thousands.
        whole.release();
        removed.extend(purged.map(|(count, last)| (execution_id, count, last)));
    }
    removed.extend(purge_expired_rows(EXPIRED_PER_PURGE, distributed));
    TableIterator::new(removed)
}

/// Deletes the variables of one execution if every one was last written or read longer than
/// `older_than` ago and no call is using it (never waited for); one row, how many and their
/// last activity, when it did. What `purge_stale` does to each execution; where Citus has
/// distributed the table, it runs there on the worker holding the execution.
#[pg_extern(volatile, parallel_unsafe)]
fn purge_execution(
    execution_id: Option<i64>,
    older_than: Option<Interval>,
) -> TableIterator<
    'static,
    (
        name!(variables, i32),
        name!(last_activity, TimestampWithTimeZone),
    ),
> {
    let execution_id = execution_id
        .ok_or_else(|| Error::null_argument("execution_id"))
        .or_raise();
    let age = age_argument(older_than);
    let _conn = Connection::open();
    let Some(whole) = Locks::try_whole(execution_id).or_raise() else {
        return TableIterator::new(Vec::new());
    };
    let purged = purge_here(execution_id, age);
    whole.release();
    TableIterator::new(purged)
}

/// Deletes up to `batch` variables whose lifetime has ended, those that ended first first,
/// skipping rows another transaction holds; how many it deleted. An execution it empties
/// loses its applied event ids too.
#[pg_extern(volatile, parallel_unsafe)]
fn purge_expired(batch: default!(Option<i32>, 10000)) -> i64 {
    let batch = match batch {
        Some(batch) if batch >= 1 => batch,
        other => Error::invalid(format!(
            "batch must be a positive number of variables, not {}",
            other.map_or("NULL".to_string(), |b| b.to_string())
        ))
        .with_hint("call noetl.purge_expired() for the default of 10000, and again while it returns that many")
        .raise(),
    };
    let _conn = Connection::open();
    // Expired variables are deleted by statements confined to one execution each: no
    // delegation needed.
    let (distributed, _) = distributed();
    purge_expired_rows(batch, distributed)
        .iter()
        .map(|(_, count, _)| i64::from(*count))
        .sum()
}

/// Purges one execution on this node, its lock held by the caller: the deletes are changes
/// of kind `cleanup` for the watches, and the execution's event ids go with it.
fn purge_here(execution_id: i64, age: Arg) -> Option<(i32, TimestampWithTimeZone)> {
    let cleanup = crate::capture::watch::Cleanup::begin();
    let rows = execute(
        &purges::PURGE_EXECUTION,
        &[int8_arg(execution_id), age],
        false,
    );
    drop(cleanup);
    let purged = one_row(&rows);
    if purged.is_some() {
        events::forget(execution_id);
    }
    purged
}

/// Deletes up to `batch` expired variables of executions that are not stale (the stale ones
/// went whole); per execution, how many and their last activity. Nothing on a table without
/// lifetimes (an extension not updated yet).
fn purge_expired_rows(batch: i32, distributed: bool) -> Vec<Purged> {
    if !legacy_queries::lifetimes() {
        return Vec::new();
    }
    let purged = if distributed {
        expired_one_execution_at_a_time(batch)
    } else {
        let rows = execute(
            &purges::PURGE_EXPIRED_ROWS,
            &[(pg_sys::Datum::from(batch), false)],
            false,
        );
        (0..rows.len())
            .filter_map(|i| {
                let execution_id = rows.get(i, 1)?.value() as i64;
                let count = rows.get(i, 2)?.value() as i32;
                // SAFETY: the statement's third column is a timestamptz.
                let last = unsafe { TimestampWithTimeZone::from_datum(rows.get(i, 3)?, false) }?;
                Some((execution_id, count, last))
            })
            .collect()
    };
    for (execution_id, _, _) in &purged {
        events::forget_if_empty(*execution_id);
    }
    purged
}

/// The expired variables, found without a lock and deleted by one statement per execution
/// (where Citus has distributed the table, each on the execution's shard).
pub(crate) fn expired_one_execution_at_a_time(batch: i32) -> Vec<Purged> {
    let candidates = execute(
        &purges::EXPIRED_EXECUTIONS,
        &[(pg_sys::Datum::from(batch), false)],
        false,
    );
    let mut left = batch;
    let mut purged = Vec::new();
    for execution_id in first_column(&candidates) {
        if left < 1 {
            break;
        }
        let rows = execute(
            &purges::PURGE_EXPIRED_OF,
            &[int8_arg(execution_id), (pg_sys::Datum::from(left), false)],
            false,
        );
        if let Some((count, last)) = one_row(&rows) {
            left -= count;
            purged.push((execution_id, count, last));
        }
    }
    purged
}

/// Whether Citus has distributed `noetl.transient` here, and whether `noetl.purge_execution`
/// is distributed with `force_delegation` there.
fn distributed() -> (bool, bool) {
    if !citus::metadata() {
        return (false, false);
    }
    let rows = execute(&purges::CITUS_PURGE_SETUP, &[], true);
    let flag = |col| rows.get(0, col).is_some_and(|d| d.value() != 0);
    (flag(1), flag(2))
}

/// Whether `purge_stale` must delegate each execution's purge: where Citus has distributed
/// `noetl.transient`. Then `noetl.purge_execution` must be distributed with
/// `force_delegation`: called inside `purge_stale` without it, Citus would run it on the
/// coordinator, where neither the delegated calls' locks nor their rows are.
fn must_delegate() -> bool {
    let (distributed, delegated) = distributed();
    if distributed && !delegated {
        Error::new(ErrorKind::PrerequisiteState, "noetl.transient is distributed by Citus, but noetl.purge_execution is not distributed with force_delegation")
            .with_hint("SELECT create_distributed_function('noetl.purge_execution(bigint,interval)', 'execution_id', colocate_with => 'noetl.transient', force_delegation => true); (docs/scale-out.md)")
            .raise();
    }
    distributed
}

/// The first column of every row, as execution ids.
fn first_column(rows: &Rows) -> Vec<i64> {
    (0..rows.len())
        .filter_map(|i| rows.get(i, 1).map(|d| d.value() as i64))
        .collect()
}

/// A purge's one row (`count`, `max(activity)`), when it deleted anything.
fn one_row(rows: &Rows) -> Option<(i32, TimestampWithTimeZone)> {
    let count = rows.get(0, 1)?.value() as i32;
    // SAFETY: the statement's second column is a timestamptz.
    let last = unsafe { TimestampWithTimeZone::from_datum(rows.get(0, 2)?, false) }?;
    (count > 0).then_some((count, last))
}
