//! Opt-in change capture: history (`noetl_vars.track_history`) and change events
//! (`noetl_vars.notify`).
//!
//! One trigger function sees every write and delete of `noetl.transient`, through the
//! extension's functions or plain SQL alike. It records changes of a variable's value, type,
//! source step or key (a rename is a delete of the old key and an insert of the new one);
//! tracked reads, which move only `access_count` and `accessed_at`, are left out (by
//! `only_counted`, here: a `WHEN` clause would be parsed again in every statement). History
//! rows are inserted in the same transaction, so a rolled-back step leaves none. Changed names
//! are queued for [`crate::capture::notify`], which announces them at commit. The transaction callbacks that end a transaction's bookkeeping
//! (queued changes, placeholder marks, held locks) are registered here too.
//!
//! The function runs as the extension's owner (so that application roles need no access to
//! the history table); it therefore refuses to run as anything but a row trigger of
//! `noetl.transient`, so that a role cannot attach it to a table of its own to forge history.
//!
//! A block that reads and writes a variable that does not exist yet inserts an uncommitted
//! placeholder row first, so that concurrent plain-SQL writers of that key wait for it
//! ([`crate::blocks`]). Placeholders are not changes: their insert (or their removal) is not
//! recorded, and the write that replaces one is recorded as the insert it really is.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;

use noetl_vars_core::watch::Kind;
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::backend::triggers::{trigger_data, Fires};
use crate::backend::{citus, guc, keys};
use crate::capture::{notify, watch};
use crate::storage::datum::{self, column};
use crate::storage::declarations;
use crate::storage::jsonb::PgJsonb;
use crate::storage::queries;
use crate::storage::spi::{execute, Connection};

thread_local! {
    /// Placeholder rows of this transaction, with the subtransaction that inserted each.
    static PLACEHOLDERS: RefCell<HashMap<(i64, String), pg_sys::SubTransactionId>> =
        RefCell::new(HashMap::new());
}

/// Marks a row about to be inserted as a placeholder (see the module comment).
pub fn placeholder(execution_id: i64, name: &str) {
    // SAFETY: no preconditions; inside a transaction.
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    PLACEHOLDERS.with(|p| {
        p.borrow_mut()
            .insert((execution_id, name.to_string()), subxact)
    });
}

/// Whether `(execution_id, name)` is a placeholder; `take` forgets it.
fn is_placeholder(execution_id: i64, name: &str, take: bool) -> bool {
    PLACEHOLDERS.with(|p| {
        let mut p = p.borrow_mut();
        let key = (execution_id, name.to_string());
        if take {
            p.remove(&key).is_some()
        } else {
            p.contains_key(&key)
        }
    })
}

/// Whether history or change events are on: the `WHEN` of the change triggers, so that nothing
/// fires while both are off. Calling it also loads the library, so settings made before it was
/// loaded (`ALTER DATABASE … SET noetl_vars.notify = on`) are read correctly; and it refuses to
/// let a write through when such a setting was weakened at login ([`crate::backend::guard`]).
#[pg_extern(stable, parallel_safe)]
fn capture_changes() -> bool {
    crate::backend::guard::check();
    !keys::rotating()
        && (guc::track_history()
            || guc::notify()
            || watch::may_match()
            || declarations::must_check())
}

/// A variable's key and columns, as one row version has them.
struct Version {
    execution_id: i64,
    name: String,
    tuple: pg_sys::HeapTuple,
}

/// # Safety
/// As [`datum::column`].
unsafe fn version(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc) -> Option<Version> {
    // SAFETY: the caller's; execution_id is int8 and var_name text, both NOT NULL.
    unsafe {
        let execution_id = column(tuple, desc, c"execution_id")?.value() as i64;
        let name = datum::text(column(tuple, desc, c"var_name")?);
        Some(Version {
            execution_id,
            name,
            tuple,
        })
    }
}

/// One history row: `operation` took variable `key` from `old` to `new`.
///
/// # Safety
/// `old`/`new` must be valid tuples of a relation whose descriptor is `desc`.
unsafe fn record(
    desc: pg_sys::TupleDesc,
    key: &Version,
    operation: &str,
    old: Option<pg_sys::HeapTuple>,
    new: Option<pg_sys::HeapTuple>,
) {
    // A value plain SQL wrote is checked against its declaration first: a violation fails
    // the statement, so nothing of it is stored or recorded.
    if let Some(tuple) = new.filter(|_| declarations::must_check()) {
        // SAFETY: the caller's.
        unsafe { check_declared(desc, key, tuple) };
    }
    if guc::track_history() {
        let null = (pg_sys::Datum::from(0usize), true);
        // SAFETY: the caller's.
        let value = |t: Option<pg_sys::HeapTuple>| {
            t.and_then(|t| unsafe { column(t, desc, c"var_value") })
                .map(|d| (PgJsonb::copy_of(d).datum(), false))
                .unwrap_or(null)
        };
        let current = new.or(old).unwrap_or(key.tuple);
        // SAFETY: the caller's.
        let text_arg =
            |col: &CStr| unsafe { column(current, desc, col) }.map_or(null, |d| (d, false));
        let _conn = Connection::open();
        let args = [
            (pg_sys::Datum::from(key.execution_id), false),
            (text_datum(&key.name), false),
            (text_datum(operation), false),
            value(old),
            value(new),
            text_arg(c"var_type"),
            text_arg(c"source_step"),
            (pg_sys::Datum::from(history_id_range()), false),
        ];
        if citus::loaded() {
            execute(&queries::HISTORY_INSERT_CITUS, &args, false);
        } else {
            execute(&queries::HISTORY_INSERT, &args[..7], false);
        }
    }
    if guc::notify() {
        notify::queue(key.execution_id, &key.name);
    }
    if watch::may_match() {
        // SAFETY: the caller's.
        unsafe { to_outbox(desc, key, operation, old, new) };
    }
}

/// Where Citus is loaded, the first history id of this node's range: its group id shifted
/// by 48 bits (0 on the coordinator and without Citus's tables), read once per backend.
fn history_id_range() -> i64 {
    thread_local! {
        static RANGE: std::cell::OnceCell<i64> = const { std::cell::OnceCell::new() };
    }
    if !citus::loaded() {
        return 0;
    }
    RANGE.with(|range| {
        *range.get_or_init(|| {
            let catalog = pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE);
            // SAFETY: a catalog-cache look-up by name, inside the trigger's transaction.
            let exists =
                unsafe { pg_sys::get_relname_relid(c"pg_dist_local_group".as_ptr(), catalog) }
                    != pg_sys::InvalidOid;
            let rows = exists.then(|| execute(&queries::CITUS_GROUP, &[], true));
            let group = rows
                .and_then(|r| r.get(0, 1))
                .map_or(0, |d| d.value() as i64);
            group << 48
        })
    })
}

/// Checks the value plain SQL wrote to variable `key` against its declaration.
///
/// # Safety
/// `tuple` must be a valid tuple of a relation whose descriptor is `desc`.
unsafe fn check_declared(desc: pg_sys::TupleDesc, key: &Version, tuple: pg_sys::HeapTuple) {
    // SAFETY: the caller's; var_value is a NOT NULL jsonb.
    if let Some(value) = unsafe { column(tuple, desc, c"var_value") } {
        // SAFETY: a jsonb datum of the row version being written.
        unsafe {
            declarations::check_written("transient", Some(key.execution_id), None, &key.name, value)
        };
    }
}

/// Writes the change of variable `key` to the outbox of the watches that match it.
///
/// # Safety
/// `old`/`new` must be valid tuples of a relation whose descriptor is `desc`.
unsafe fn to_outbox(
    desc: pg_sys::TupleDesc,
    key: &Version,
    operation: &str,
    old: Option<pg_sys::HeapTuple>,
    new: Option<pg_sys::HeapTuple>,
) {
    // SAFETY: the caller's.
    let value =
        |t: Option<pg_sys::HeapTuple>| t.and_then(|t| unsafe { column(t, desc, c"var_value") });
    let kind = match old.filter(|_| new.is_none()) {
        // SAFETY: the caller's.
        Some(gone) => watch::delete_kind(unsafe { expired(gone, desc) }),
        None => Kind::Set,
    };
    watch::capture(&watch::Change {
        execution_id: key.execution_id,
        name: &key.name,
        kind,
        operation,
        old: value(old),
        new: value(new),
        sensitive: &|| declarations::is_sensitive(key.execution_id, &key.name),
    });
}

/// Whether the lifetime of the variable `tuple` holds had ended when this statement started.
///
/// # Safety
/// As [`datum::column`].
unsafe fn expired(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc) -> bool {
    // SAFETY: the caller's; expires_at is a timestamptz (an int8 of microseconds).
    let ends = unsafe { column(tuple, desc, c"expires_at") }.map(|d| d.value() as i64);
    // SAFETY: no preconditions; inside a transaction.
    let now = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    ends.is_some_and(|ends| ends <= now)
}

/// Whether an update of a variable (same key) is a tracked read: `access_count` moved and the
/// value (compared as text: jsonb's `=` calls 1 and 1.000 equal, history must not), type and
/// source step did not. Tracked reads are not changes. (This test was the update trigger's
/// `WHEN` clause, which PostgreSQL parses again in every statement that fires the trigger;
/// here it costs nothing while capture is off.)
///
/// # Safety
/// `old` and `new` must be valid tuples of a relation whose descriptor is `desc`.
unsafe fn only_counted(
    desc: pg_sys::TupleDesc,
    old: pg_sys::HeapTuple,
    new: pg_sys::HeapTuple,
) -> bool {
    // SAFETY: the caller's; the columns are int4, jsonb and text. Compared as bytes: in a
    // database whose encoding is not UTF-8, text that is not valid UTF-8 must not look equal.
    unsafe {
        let col = |t, name| column(t, desc, name);
        let count = |t| col(t, c"access_count").map(|d: pg_sys::Datum| d.value() as i32);
        if count(old) == count(new) {
            return false;
        }
        let text = |t, name| col(t, name).map(|d| datum::text_bytes(d));
        let value = |t| col(t, c"var_value").map(|d| jsonb_text(d));
        text(old, c"var_name") == text(new, c"var_name")
            && text(old, c"var_type") == text(new, c"var_type")
            && text(old, c"source_step") == text(new, c"source_step")
            && value(old) == value(new)
    }
}

/// The text of a jsonb datum (`jsonb_out`), as bytes.
///
/// # Safety
/// `datum` must be a non-null jsonb datum.
unsafe fn jsonb_text(datum: pg_sys::Datum) -> Option<Vec<u8>> {
    // SAFETY: the caller's; jsonb_out takes one jsonb and returns a C string.
    let text: Option<&CStr> =
        unsafe { pgrx::direct_function_call(pg_sys::jsonb_out, &[Some(datum)]) };
    text.map(|t| t.to_bytes().to_vec())
}

/// What the trigger does for one row event.
///
/// # Safety
/// `data` must be the `TriggerData` of a row trigger of `noetl.transient`.
unsafe fn changed(data: &pg_sys::TriggerData) {
    // SAFETY: the caller's: the relation and tuples of a row event are valid.
    unsafe {
        let desc = (*data.tg_relation).rd_att;
        let event = data.tg_event & pg_sys::TRIGGER_EVENT_OPMASK;
        let first = version(data.tg_trigtuple, desc);
        match (event, first) {
            (pg_sys::TRIGGER_EVENT_INSERT, Some(new))
                if !is_placeholder(new.execution_id, &new.name, false) =>
            {
                record(desc, &new, "insert", None, Some(new.tuple));
            }
            (pg_sys::TRIGGER_EVENT_DELETE, Some(old))
                if !is_placeholder(old.execution_id, &old.name, true) =>
            {
                record(desc, &old, "delete", Some(old.tuple), None);
            }
            (pg_sys::TRIGGER_EVENT_UPDATE, Some(old)) => {
                let Some(new) = version(data.tg_newtuple, desc) else {
                    return;
                };
                let moved = old.execution_id != new.execution_id || old.name != new.name;
                if !moved && only_counted(desc, old.tuple, new.tuple) {
                    return;
                }
                let was_placeholder = is_placeholder(old.execution_id, &old.name, true);
                if moved {
                    if !was_placeholder {
                        record(desc, &old, "delete", Some(old.tuple), None);
                    }
                    record(desc, &new, "insert", None, Some(new.tuple));
                } else if was_placeholder {
                    record(desc, &new, "insert", None, Some(new.tuple));
                } else {
                    record(desc, &new, "update", Some(old.tuple), Some(new.tuple));
                }
            }
            _ => {}
        }
    }
}

/// `AFTER INSERT OR UPDATE OR DELETE ON noetl.transient FOR EACH ROW`, declared in
/// `sql/triggers.sql`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn transient_changed_wrapper(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: PostgreSQL passes the call's own fcinfo; trigger_data checks it is a row
    // trigger of noetl.transient before anything reads the tuples.
    unsafe {
        let data = trigger_data(
            fcinfo,
            "transient_changed",
            &[c"transient"],
            Fires::AfterRow,
        );
        changed(data);
    }
    // The result of an AFTER trigger is ignored.
    pg_sys::Datum::from(0usize)
}

crate::backend::triggers::function_info_v1!(pg_finfo_transient_changed_wrapper);

fn text_datum(s: &str) -> pg_sys::Datum {
    s.into_datum().unwrap_or(pg_sys::Datum::from(0usize))
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent as E;
    match event {
        E::XACT_EVENT_PRE_COMMIT => notify::send_pending(),
        // NOTIFY cannot be prepared; a prepared transaction's changes are not announced.
        E::XACT_EVENT_PRE_PREPARE => notify::clear(),
        E::XACT_EVENT_COMMIT | E::XACT_EVENT_ABORT | E::XACT_EVENT_PREPARE => {
            notify::clear();
            watch::reset();
            crate::storage::spi::forget_open();
            PLACEHOLDERS.with(|p| p.borrow_mut().clear());
            crate::backend::locks::forget_all();
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        // Everything recorded since this subtransaction started belongs to it or to its
        // children (subtransaction ids only grow), and is rolled back with it.
        notify::forget_since(my_subid);
        // Placeholder rows inserted since are gone with it; their marks must not make a later
        // write of the same key look like a placeholder.
        PLACEHOLDERS.with(|p| p.borrow_mut().retain(|_, taken| *taken < my_subid));
        crate::backend::locks::forget_since(my_subid);
    }
}

/// Registers the transaction callbacks; called once from `_PG_init`.
pub fn init() {
    // SAFETY: static functions that live as long as the library.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}
