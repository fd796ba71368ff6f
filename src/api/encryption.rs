//! Encryption at rest, for operators: `noetl.rotate_keys`, one batch of a key rotation
//! (docs/encryption.md, "Rotating keys"). `CALL noetl.rotate_keys_all()` (sql/encryption.sql)
//! runs batches until it is done, committing after each.

use noetl_vars_core::output::OutValue;
use noetl_vars_core::sealed::key_id;
use noetl_vars_core::{Error, ErrorKind};
use pgrx::prelude::*;

use crate::backend::errors::Raise;
use crate::backend::keys;
use crate::storage::declarations;
use crate::storage::jsonb::{self, PgJsonb};
use crate::storage::rotation::{self, Found, PAGES_PER_RANGE, TABLES};
use crate::storage::sealed::{self, Row};
use crate::storage::spi::{execute, Connection};
use crate::storage::table::{int8_arg, text_arg};

/// Where a batch starts and what it did.
struct Walk {
    table: usize,
    page: u32,
    examined: i64,
    rewritten: i64,
    total: i64,
}

/// One batch of a key rotation: examines up to about `max_rows` rows that may need it (a
/// few pages at a time), seals each under the active key, and saves where it stopped.
#[pg_extern(volatile, parallel_unsafe)]
fn rotate_keys(max_rows: default!(Option<i32>, "1000")) -> PgJsonb {
    let max_rows = match max_rows {
        Some(n) if (1..=1_000_000).contains(&n) => i64::from(n),
        _ => Error::new(
            ErrorKind::InvalidArgument,
            "max_rows must be between 1 and 1000000",
        )
        .raise(),
    };
    // The ring afresh: a key command runs again, a changed key file is read again.
    let active = keys::reloaded().active_id().to_string();
    let conn = Connection::open();
    let _rotating = keys::Rotating::start();
    let mut walk = start(&active);
    let names = execute(&rotation::SENSITIVE_NAMES, &[], true)
        .get(0, 1)
        .map_or((pg_sys::Datum::from(0usize), true), |d| (d, false));
    while walk.table < TABLES.len() && walk.examined < max_rows {
        let table = &TABLES[walk.table];
        if walk.page >= rotation::pages(table.name) {
            walk.table += 1;
            walk.page = 0;
            continue;
        }
        let end = walk.page.saturating_add(PAGES_PER_RANGE);
        let rows = execute(
            &table.select,
            &[
                text_arg(&format!("({},0)", walk.page)),
                text_arg(&format!("({end},0)")),
                text_arg(&active),
                names,
            ],
            false,
        );
        for i in 0..rows.len() {
            if let Some(found) = rotation::found(&rows, i) {
                walk.examined += 1;
                if seal_again(walk.table, &found, &active) {
                    walk.rewritten += 1;
                }
            }
        }
        walk.page = end;
        pgrx::check_for_interrupts!();
    }
    let body = finish(&active, walk, names);
    conn.in_caller(|| jsonb::build(&body))
}

/// The walk as saved, or from the start when there is none or it was for another key.
fn start(active: &str) -> Walk {
    execute(&rotation::STATE_START, &[text_arg(active)], false);
    let state = execute(&rotation::STATE_READ, &[], false);
    let text = |col| {
        state.get(0, col).map(|d| {
            // SAFETY: the state row's columns are text, text, int8, int8, all NOT NULL.
            unsafe { crate::storage::datum::text(d) }
        })
    };
    let fresh = Walk {
        table: 0,
        page: 0,
        examined: 0,
        rewritten: 0,
        total: 0,
    };
    if text(1).as_deref() != Some(active) {
        return fresh;
    }
    let Some(table) = text(2).and_then(|t| TABLES.iter().position(|x| x.name == t)) else {
        return fresh;
    };
    Walk {
        table,
        page: state
            .get(0, 3)
            .map_or(0, |d| u32::try_from(d.value() as i64).unwrap_or(0)),
        total: state.get(0, 4).map_or(0, |d| d.value() as i64),
        ..fresh
    }
}

/// Seals again what row `found` of table `TABLES[table]` needs; whether it wrote.
fn seal_again(table: usize, found: &Found, active: &str) -> bool {
    let row = match table {
        1 => Row::Step {
            execution_id: found.execution_id.unwrap_or_default(),
            step: found.step.as_deref().unwrap_or_default(),
            iteration: found.iteration,
        },
        2 => Row::Workflow(found.playbook.as_deref().unwrap_or_default()),
        3 => Row::Global,
        5 => Row::Event {
            execution_id: found.execution_id.unwrap_or_default(),
            event_id: found.step.as_deref().unwrap_or_default(),
        },
        _ => Row::Transient(found.execution_id.unwrap_or_default()),
    };
    let sensitive = || {
        if table == 5 {
            return false;
        }
        let execution_id = found.execution_id.filter(|_| table != 2 && table != 3);
        declarations::applying(execution_id, found.playbook.as_deref(), &found.name)
            .is_some_and(|d| d.sensitive)
    };
    let mut changed = false;
    let values = found.values.map(|value| {
        let value = value?;
        let due = match value.sealed_text() {
            Some(s) => key_id(&s) != Some(active),
            None => sensitive(),
        };
        if !due {
            return Some(value);
        }
        changed = true;
        Some(sealed::sealed_again(&row, &found.name, value))
    });
    if changed {
        let arg = |v: Option<PgJsonb>| {
            v.map_or((pg_sys::Datum::from(0usize), true), |v| (v.datum(), false))
        };
        execute(
            &TABLES[table].update,
            &[(found.ctid, false), arg(values[0]), arg(values[1])],
            false,
        );
    }
    changed
}

/// Saves the walk (from the start again when a finished pass left values under other keys)
/// and says what it did.
fn finish(active: &str, mut walk: Walk, names: (pg_sys::Datum, bool)) -> OutValue {
    walk.total += walk.rewritten;
    let finished = walk.table >= TABLES.len();
    let remaining = if finished {
        remaining(active, names)
    } else {
        0
    };
    let done = finished && remaining == 0;
    if finished && !done {
        walk.table = 0;
        walk.page = 0;
    }
    let table = TABLES.get(walk.table).map_or("done", |t| t.name);
    execute(
        &rotation::STATE_SAVE,
        &[
            text_arg(active),
            text_arg(table),
            int8_arg(i64::from(walk.page)),
            int8_arg(walk.total),
        ],
        false,
    );
    OutValue::Object(vec![
        ("active_key".into(), OutValue::String(active.into())),
        ("examined".into(), OutValue::Int(walk.examined)),
        ("rewritten".into(), OutValue::Int(walk.rewritten)),
        ("rewritten_total".into(), OutValue::Int(walk.total)),
        ("next_table".into(), OutValue::String(table.into())),
        ("next_page".into(), OutValue::Int(i64::from(walk.page))),
        ("remaining".into(), OutValue::Int(remaining)),
        ("done".into(), OutValue::Bool(done)),
    ])
}

/// Values left for another pass ([`rotation::REMAINING`]); `names` those declared sensitive.
fn remaining(active: &str, names: (pg_sys::Datum, bool)) -> i64 {
    let rows = execute(&rotation::REMAINING, &[text_arg(active), names], false);
    rows.get(0, 1).map_or(0, |d| d.value() as i64)
}
