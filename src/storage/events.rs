//! Events applied at most once (`noetl.applied_events`, docs/reference.md, "Re-running"): a
//! block call with an `event_id` locks the id before it takes any other lock, looks it up, and
//! either returns what an earlier call recorded or applies and records its own result.
//!
//! The lock (an advisory lock of the id, [`crate::backend::locks::Locks::event`]) makes a
//! concurrent call with the same id wait until the first one's transaction ends; its look-up
//! then sees the committed row (READ COMMITTED takes a snapshot per statement) and returns
//! that result, or finds none (the first rolled back) and applies. One primary-key probe and,
//! for a first delivery, one insert.

use std::cell::{OnceCell, RefCell};

use pgrx::pg_sys::{self, Oid};

use noetl_vars_core::validate::quote;
use noetl_vars_core::{Error, ErrorKind};

use crate::backend::catalog;
use crate::backend::errors::{OrRaise, Raise};
use crate::backend::ffi;
use crate::backend::locks::Locks;
use crate::storage::datum;
use crate::storage::direct::{insert, probe, Column, Table};
use crate::storage::jsonb::PgJsonb;
use crate::storage::spi::{execute, Query};
use crate::storage::table::{int8_arg, text_arg};

const INT8: Oid = pg_sys::INT8OID;
const TEXT: Oid = pg_sys::TEXTOID;
const JSONB: Oid = pg_sys::JSONBOID;

static APPLIED: Query = Query {
    name: "event_applied",
    sql: "SELECT function, step, block_md5 OPERATOR(pg_catalog.=) $3, result \
          FROM noetl.applied_events \
          WHERE execution_id OPERATOR(pg_catalog.=) $1 AND event_id OPERATOR(pg_catalog.=) $2",
    args: &[INT8, TEXT, TEXT],
};

/// What [`RECORD`] writes besides the key, and `applied_at` (the column's default, `now()`);
/// the first four are what [`APPLIED`] reads.
const RECORD_COLUMNS: [Column; 5] = [
    Column {
        name: c"function",
        type_oid: TEXT,
    },
    Column {
        name: c"step",
        type_oid: TEXT,
    },
    Column {
        name: c"block_md5",
        type_oid: TEXT,
    },
    Column {
        name: c"result",
        type_oid: JSONB,
    },
    Column {
        name: c"applied_at",
        type_oid: pg_sys::TIMESTAMPTZOID,
    },
];

/// The recording of a first delivery. At READ COMMITTED the id's lock means no other
/// transaction can have recorded it meanwhile: a plain insert.
static RECORD: Query = Query {
    name: "event_record",
    sql: "INSERT INTO noetl.applied_events (execution_id, event_id, function, step, block_md5, result) \
          VALUES ($1, $2, $3, $4, $5, $6) RETURNING 1",
    args: &[INT8, TEXT, TEXT, TEXT, TEXT, JSONB],
};

/// The same at REPEATABLE READ or SERIALIZABLE, where a transaction that committed after this
/// one's snapshot may have recorded it: nothing is inserted then.
static RECORD_UNLESS_RECORDED: Query = Query {
    name: "event_record_unless_recorded",
    sql: "INSERT INTO noetl.applied_events (execution_id, event_id, function, step, block_md5, result) \
          VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (execution_id, event_id) DO NOTHING RETURNING 1",
    args: &[INT8, TEXT, TEXT, TEXT, TEXT, JSONB],
};

static FORGET: Query = Query {
    name: "event_forget",
    sql: "DELETE FROM noetl.applied_events WHERE execution_id OPERATOR(pg_catalog.=) $1",
    args: &[INT8],
};

static FORGET_IF_EMPTY: Query = Query {
    name: "event_forget_if_empty",
    sql: "DELETE FROM noetl.applied_events WHERE execution_id OPERATOR(pg_catalog.=) $1 \
          AND NOT EXISTS (SELECT 1 FROM noetl.transient t WHERE t.execution_id OPERATOR(pg_catalog.=) $1)",
    args: &[INT8],
};

/// One call's event: its id and what the call is (function, step, block).
pub struct EventCall {
    pub id: String,
    pub function: &'static str,
    pub step: String,
    pub block: Option<PgJsonb>,
    /// What else identifies the block: the phase, the iteration.
    pub extra: String,
    /// [`Self::fingerprint`], worked out once: the look-up and the recording both need it.
    fingerprint: OnceCell<String>,
    /// `noetl.applied_events`, opened by [`claim`] for [`record`] (one open, one lock and one
    /// slot for both), and the attribute numbers of [`RECORD_COLUMNS`] in it, where they can
    /// do without statements.
    table: RefCell<Option<(Table, Vec<i16>)>>,
}

impl EventCall {
    pub fn new(
        id: String,
        function: &'static str,
        step: String,
        block: Option<PgJsonb>,
        extra: String,
    ) -> EventCall {
        EventCall {
            id,
            function,
            step,
            block,
            extra,
            fingerprint: OnceCell::new(),
            table: RefCell::new(None),
        }
    }

    /// What identifies the call's block: what else identifies it (phase, iteration), then the
    /// md5 of the block's jsonb (its binary form is canonical: one value, one byte string).
    fn fingerprint(&self) -> &str {
        self.fingerprint.get_or_init(|| {
            // SAFETY: a non-null jsonb datum, detoasted for the hash.
            let md5 = self
                .block
                .map(|b| unsafe { block_md5(datum::varlena_bytes(b.datum())) });
            let md5 = md5.unwrap_or_default();
            let mut fingerprint = String::with_capacity(self.extra.len() + 1 + md5.len());
            fingerprint.push_str(&self.extra);
            fingerprint.push(':');
            fingerprint.push_str(&md5);
            fingerprint
        })
    }
}

/// The largest block whose md5 [`block_md5`] remembers.
const REMEMBERED_BLOCK: usize = 64 * 1024;

thread_local! {
    /// The last block hashed and its md5: a step's block is the same at every call, and
    /// comparing its bytes costs a fraction of hashing them.
    static LAST_BLOCK: RefCell<Option<(Box<[u8]>, String)>> = const { RefCell::new(None) };
}

/// [`hex_md5`] of a block's bytes, remembered for the next call with the same bytes.
fn block_md5(bytes: &[u8]) -> String {
    LAST_BLOCK.with(|last| {
        if let Some((block, md5)) = &*last.borrow() {
            if **block == *bytes {
                return md5.clone();
            }
        }
        let md5 = hex_md5(bytes);
        if bytes.len() <= REMEMBERED_BLOCK {
            *last.borrow_mut() = Some((bytes.into(), md5.clone()));
        }
        md5
    })
}

/// `md5(bytes)` as PostgreSQL's `md5()` writes it: 32 lower-case hex digits.
fn hex_md5(bytes: &[u8]) -> String {
    use md5::Digest;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = md5::Md5::digest(bytes);
    let mut out = String::with_capacity(32);
    for byte in digest.iter() {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0xf)] as char);
    }
    out
}

/// What an earlier call with the same id did.
pub struct Applied {
    pub function: String,
    pub step: String,
    pub same_block: bool,
    /// Its result; `None` only if it never recorded one.
    pub result: Option<pg_sys::Datum>,
}

/// Locks the event's id and looks it up: `None` when no earlier call applied it (this call
/// applies, then [`record`]s), else what the earlier call did. Waits for a concurrent call
/// with the id.
pub fn claim(execution_id: i64, event: &EventCall) -> Option<Applied> {
    Locks::event(execution_id, &event.id).or_raise();
    // A new snapshot (as a non-read-only statement takes): it sees what a transaction this call
    // waited for on the lock committed.
    // Opened for the insert a first delivery makes; else (a role without INSERT, REPEATABLE
    // READ) for the look-up alone.
    let table = insert::open_for_insert(c"applied_events", c"event_id")
        .and_then(|t| t.attnums(&RECORD_COLUMNS).map(|attnums| (t, attnums)));
    let found = match &table {
        Some((table, attnums)) => probe::row_at(
            table,
            &attnums[..4],
            &RECORD_COLUMNS[..4],
            execution_id,
            &event.id,
            probe::Mode::Read,
        ),
        None => probe::row(
            c"applied_events",
            c"event_id",
            execution_id,
            &event.id,
            &RECORD_COLUMNS[..4],
            probe::Mode::Read,
        ),
    };
    event.table.replace(table);
    match found {
        probe::Probe::Missing => None,
        // SAFETY: text, text, text and jsonb datums, the first three non-null.
        probe::Probe::Found(values) => unsafe {
            Some(Applied {
                function: datum::text(values[0]?),
                step: datum::text(values[1]?),
                same_block: datum::text(values[2]?) == event.fingerprint(),
                result: values[3],
            })
        },
        probe::Probe::Unavailable => look_up(execution_id, event),
    }
}

/// What [`claim`] reads, through SPI (where a probe cannot stand for the statement).
fn look_up(execution_id: i64, event: &EventCall) -> Option<Applied> {
    let rows = execute(
        &APPLIED,
        &[
            int8_arg(execution_id),
            text_arg(&event.id),
            text_arg(event.fingerprint()),
        ],
        // Not read-only: SPI then takes a new snapshot, which sees what a transaction this
        // call waited for on the lock committed (and what this statement itself wrote).
        false,
    );
    // SAFETY: the statement returns text, text, boolean, jsonb; Rows::get gives only non-null
    // datums.
    unsafe {
        Some(Applied {
            function: datum::text(rows.get(0, 1)?),
            step: datum::text(rows.get(0, 2)?),
            same_block: rows.get(0, 3).is_some_and(|d| d.value() != 0),
            result: rows.get(0, 4),
        })
    }
}

/// Records the result of the call that applied the event. At READ COMMITTED the id's lock
/// guarantees no other transaction recorded it meanwhile; at REPEATABLE READ or SERIALIZABLE
/// one may have committed after this transaction's snapshot was taken, and this call, having
/// applied the event a second time, fails with 40001 (retry it: the retry returns the first
/// result).
pub fn record(execution_id: i64, event: &EventCall, result: PgJsonb) {
    if record_directly(execution_id, event, result) {
        return;
    }
    // SAFETY: a backend global.
    let snapshot_per_transaction =
        unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32;
    let query = if snapshot_per_transaction {
        &RECORD_UNLESS_RECORDED
    } else {
        &RECORD
    };
    let rows = execute(
        query,
        &[
            int8_arg(execution_id),
            text_arg(&event.id),
            text_arg(event.function),
            text_arg(&event.step),
            text_arg(event.fingerprint()),
            (result.datum(), false),
        ],
        false,
    );
    if rows.len() != 1 {
        Error::new(
            ErrorKind::SerializationFailure,
            format!(
                "event_id {} was applied by a transaction that committed after this one started",
                quote(&event.id)
            ),
        )
        .with_hint("retry the transaction: it then returns the first result")
        .raise();
    }
}

/// [`RECORD`] without the statement ([`crate::storage::direct::insert`]), where that can stand
/// for it: false where the statement must run.
fn record_directly(execution_id: i64, event: &EventCall, result: PgJsonb) -> bool {
    let texts = [
        event.id.as_str(),
        event.function,
        event.step.as_str(),
        event.fingerprint(),
    ];
    let mut values = [pg_sys::Datum::from(0usize); 7];
    values[0] = pg_sys::Datum::from(execution_id);
    values[5] = result.datum();
    // SAFETY: on the backend's thread, one error boundary for the texts and the transaction's
    // start time (what the column's DEFAULT now() gives); the closure holds plain data only.
    unsafe {
        ffi::boundary(|| {
            for (value, text) in values[1..5].iter_mut().zip(texts) {
                let text = ffi::cstring_to_text_with_len(text.as_ptr().cast(), text.len() as _);
                *value = pg_sys::Datum::from(text);
            }
            values[6] = pg_sys::Datum::from(ffi::GetCurrentTransactionStartTimestamp());
        });
    }
    match event.table.take() {
        Some((table, attnums)) => insert::row_in(&table, &RECORD_COLUMNS, &attnums, &values),
        None => false,
    }
}

/// Forgets every event of an execution (its variables are gone). Nothing to forget where the
/// table does not exist yet (an extension older than 0.6.0 whose library is newer), nor for a
/// role that may not delete from it: it cannot have recorded any either without the grants
/// event ids need (docs/security.md), and `cleanup_execution` keeps working for a role granted
/// what it needed before 0.6.0.
pub fn forget(execution_id: i64) {
    if may_forget() {
        execute(&FORGET, &[int8_arg(execution_id)], false);
    }
}

/// Forgets the events of an execution that has no variables left (a purge of expired ones
/// emptied it).
pub fn forget_if_empty(execution_id: i64) {
    if may_forget() {
        execute(&FORGET_IF_EMPTY, &[int8_arg(execution_id)], false);
    }
}

/// Whether `noetl.applied_events` exists and the caller may delete from it.
fn may_forget() -> bool {
    catalog::noetl_relation(c"applied_events").is_some_and(|table| {
        // SAFETY: a privilege check on the backend's own thread, inside a transaction (every
        // caller is a SQL function).
        unsafe {
            pg_sys::pg_class_aclcheck(
                table,
                pg_sys::GetUserId(),
                pg_sys::ACL_DELETE as pg_sys::AclMode,
            ) == pg_sys::AclResult::ACLCHECK_OK
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{block_md5, hex_md5};

    #[test]
    fn a_remembered_block_md5_is_that_of_the_same_bytes_only() {
        assert_eq!(block_md5(b"abc"), hex_md5(b"abc"));
        assert_eq!(block_md5(b"abc"), hex_md5(b"abc"));
        assert_eq!(block_md5(b"abd"), hex_md5(b"abd"));
        assert_eq!(block_md5(b"ab"), hex_md5(b"ab"));
    }

    #[test]
    fn hex_md5_writes_what_postgresql_md5_writes() {
        // md5('') and md5('abc') as PostgreSQL returns them.
        assert_eq!(hex_md5(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex_md5(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }
}
