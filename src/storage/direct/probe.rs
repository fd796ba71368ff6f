//! Primary-key probes: the row of one `(execution_id, key)` of `noetl.transient` or
//! `noetl.applied_events`, read through the primary-key index with the same snapshot rules as
//! a non-read-only SPI statement (a new snapshot at READ COMMITTED that also sees this
//! transaction's own writes) and the same locks (`AccessShareLock`, or `RowShareLock` and a row
//! lock for a read for a write), held to the end of the transaction.

use std::ffi::CStr;

use std::ffi::c_int;

use pgrx::pg_sys::{self, Datum, Oid, ScanKeyData};

use noetl_vars_core::{Error, ErrorKind};

use super::{Column, Table};
use crate::backend::errors::Raise;
use crate::backend::ffi;

/// What a probe found.
pub(crate) enum Probe {
    /// The row: one value per column asked for (`None` for SQL NULL), each copied into the
    /// current memory context (while an SPI connection is open, the connection's: it lives as
    /// long as the rows of its statements).
    Found(Vec<Option<Datum>>),
    /// No visible row with that key.
    Missing,
    /// A probe cannot stand for the statement here: run the statement.
    Unavailable,
}

/// How a probe reads its row.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    /// As a plain `SELECT`.
    Read,
    /// As `SELECT … FOR UPDATE`: the row is locked for the caller's write; a concurrent writer
    /// of it is waited for and its committed version is what the probe returns. The table and
    /// its primary key are locked in ROW EXCLUSIVE mode, the mode of the write that follows,
    /// instead of the ROW SHARE of `FOR UPDATE`: the write then finds its locks held (a
    /// statement's lock that conflicts with the one must wait for the write anyway).
    Lock,
}

/// The row of `noetl.{table}` whose primary key is `(execution_id, {key_column} = key)`.
pub(crate) fn row(
    table: &CStr,
    key_column: &'static CStr,
    execution_id: i64,
    key: &str,
    columns: &[Column],
    mode: Mode,
) -> Probe {
    // `FOR UPDATE` needs UPDATE besides SELECT.
    let (privileges, lock) = match mode {
        Mode::Read => (pg_sys::ACL_SELECT, pg_sys::AccessShareLock),
        Mode::Lock => (
            pg_sys::ACL_SELECT | pg_sys::ACL_UPDATE,
            pg_sys::RowExclusiveLock,
        ),
    };
    match Table::open(table, key_column, privileges as _, lock as _) {
        Some(table) => row_in(&table, execution_id, key, columns, mode),
        None => Probe::Unavailable,
    }
}

/// The same in a table already open.
pub(crate) fn row_in(
    table: &Table,
    execution_id: i64,
    key: &str,
    columns: &[Column],
    mode: Mode,
) -> Probe {
    match table.attnums(columns) {
        Some(attnums) => row_at(table, &attnums, columns, execution_id, key, mode),
        None => Probe::Unavailable,
    }
}

/// The same with the attribute numbers of `columns` already looked up ([`Table::attnums`]),
/// under a snapshot taken as a non-read-only SPI statement takes it. The calls into
/// PostgreSQL are made under two error boundaries ([`ffi::boundary`]), not one each.
pub(crate) fn row_at(
    table: &Table,
    attnums: &[i16],
    columns: &[Column],
    execution_id: i64,
    key: &str,
    mode: Mode,
) -> Probe {
    assert_eq!(attnums.len(), columns.len());
    // SAFETY: the table is open and checked, `attnums` are those of `columns` in it (the
    // caller's Table::attnums); the slot's memory context is the caller's, which outlives the
    // table (every caller keeps the table in a frame of the current SPI connection). The
    // snapshot pushed here is popped on every path below; on an ERROR the (sub)transaction's
    // abort pops it and ends the scan. The closures hold only plain data.
    unsafe {
        let slot = table.slot();
        let (key_ptr, key_len) = (key.as_ptr(), key.len() as c_int);
        let (heap, index) = (table.heap, table.index);
        let mut keys = [ScanKeyData::default(), ScanKeyData::default()];
        let (desc, snapshot, found) = ffi::boundary(|| {
            ffi::PushActiveSnapshot(ffi::GetTransactionSnapshot());
            ffi::CommandCounterIncrement();
            ffi::UpdateActiveSnapshotCommandId();
            let snapshot = ffi::GetActiveSnapshot();
            let key_text = ffi::cstring_to_text_with_len(key_ptr.cast(), key_len);
            scan_keys(&mut keys, index, execution_id, Datum::from(key_text));
            #[cfg(not(feature = "pg18"))]
            let desc = ffi::index_beginscan(heap, index, snapshot, 2, 0);
            #[cfg(feature = "pg18")]
            let desc = ffi::index_beginscan(heap, index, snapshot, std::ptr::null_mut(), 2, 0);
            ffi::index_rescan(desc, keys.as_mut_ptr(), 2, std::ptr::null_mut(), 0);
            // The key is unique: one visible row at most.
            let found =
                ffi::index_getnext_slot(desc, pg_sys::ScanDirection::ForwardScanDirection, slot);
            (desc, snapshot, found)
        });
        let found = found && (mode == Mode::Read || lock(table, slot, snapshot, execution_id, key));
        let mut values = vec![None; if found { columns.len() } else { 0 }];
        ffi::boundary(|| {
            for ((value, &attnum), column) in values.iter_mut().zip(attnums).zip(columns) {
                *value = copy_attribute(slot, attnum, column.type_oid);
            }
            ffi::exec_clear_tuple(slot);
            ffi::index_endscan(desc);
            ffi::PopActiveSnapshot();
        });
        if found {
            Probe::Found(values)
        } else {
            Probe::Missing
        }
    }
}

/// `execution_id = $1 AND {key} = $2` as btree scan keys of `index`'s two columns.
///
/// # Safety
/// Inside an [`ffi::boundary`]; `index` is open and checked by [`super::primary_key`].
unsafe fn scan_keys(
    keys: &mut [ScanKeyData; 2],
    index: pg_sys::Relation,
    execution_id: i64,
    key: Datum,
) {
    let procedures = [pg_sys::F_INT8EQ, pg_sys::F_TEXTEQ];
    let arguments = [Datum::from(execution_id), key];
    for (i, scan_key) in keys.iter_mut().enumerate() {
        // SAFETY: the caller's: the index has two key columns, each with a collation.
        unsafe {
            ffi::ScanKeyEntryInitialize(
                scan_key,
                0,
                i as i16 + 1,
                pg_sys::BTEqualStrategyNumber as _,
                pg_sys::InvalidOid,
                *(*index).rd_indcollation.add(i),
                Oid::from(procedures[i]),
                arguments[i],
            );
        }
    }
}

/// Locks the row in `slot` as `SELECT … FOR UPDATE` does (`ExecLockRows`): at READ COMMITTED
/// a concurrent update is waited for and its result, if it still has the key, is what `slot`
/// then holds; at REPEATABLE READ and SERIALIZABLE one is a serialization failure. False when
/// the row is gone (deleted, or its key changed).
///
/// # Safety
/// `slot` holds the row just found by the probe's index scan under `snapshot`.
unsafe fn lock(
    table: &Table,
    slot: *mut pg_sys::TupleTableSlot,
    snapshot: pg_sys::Snapshot,
    execution_id: i64,
    key: &str,
) -> bool {
    // SAFETY: the caller's.
    unsafe {
        let xact_snapshot = pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32;
        let mut flags = pg_sys::TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS;
        if !xact_snapshot {
            flags |= pg_sys::TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
        }
        let mut tid = (*slot).tts_tid;
        let mut failure = pg_sys::TM_FailureData::default();
        let result = pg_sys::table_tuple_lock(
            table.heap,
            &mut tid,
            snapshot,
            slot,
            pg_sys::GetCurrentCommandId(true),
            pg_sys::LockTupleMode::LockTupleExclusive,
            pg_sys::LockWaitPolicy::LockWaitBlock,
            flags as u8,
            &mut failure,
        );
        match result {
            // A newer version: it is the row only if it still has the key.
            pg_sys::TM_Result::TM_Ok if failure.traversed => {
                has_key(slot, &table.keys, execution_id, key)
            }
            pg_sys::TM_Result::TM_Ok => true,
            // Changed by this transaction after the snapshot: cannot happen after the command
            // counter was advanced; skipped as ExecLockRows skips it.
            pg_sys::TM_Result::TM_SelfModified => false,
            pg_sys::TM_Result::TM_Deleted if !xact_snapshot => false,
            pg_sys::TM_Result::TM_Updated | pg_sys::TM_Result::TM_Deleted => Error::new(
                ErrorKind::SerializationFailure,
                "could not serialize access due to concurrent update",
            )
            .raise(),
            other => pgrx::error!("noetl_vars: unexpected tuple lock result {other}"),
        }
    }
}

/// Whether the row in `slot` has `execution_id` and `key` (a later version of a row may have
/// another). Bytes compared: the key column's collation is the database's, which is
/// deterministic.
///
/// # Safety
/// `slot` holds a row of the checked table whose key columns are `attnums[0..2]`.
unsafe fn has_key(
    slot: *mut pg_sys::TupleTableSlot,
    attnums: &[i16],
    execution_id: i64,
    key: &str,
) -> bool {
    // SAFETY: the caller's; both columns are NOT NULL (primary key) but checked anyway.
    unsafe {
        let mut is_null = false;
        let id = pg_sys::slot_getattr(slot, attnums[0] as i32, &mut is_null);
        if is_null || id.value() as i64 != execution_id {
            return false;
        }
        let text = pg_sys::slot_getattr(slot, attnums[1] as i32, &mut is_null);
        !is_null && crate::storage::datum::varlena_bytes(text) == key.as_bytes()
    }
}

/// Attribute `attnum` of the row in `slot`, copied (and detoasted) into the current memory
/// context, while the snapshot the row was read under is still active.
///
/// # Safety
/// Inside an [`ffi::boundary`]; `slot` holds a row of a table whose attribute `attnum` is of
/// type `type_oid`, checked by [`Table::attnums`].
unsafe fn copy_attribute(
    slot: *mut pg_sys::TupleTableSlot,
    attnum: i16,
    type_oid: Oid,
) -> Option<Datum> {
    // SAFETY: the caller's.
    unsafe {
        let (value, is_null) = ffi::slot_getattr(slot, c_int::from(attnum));
        if is_null {
            return None;
        }
        Some(if by_value(type_oid) {
            value
        } else {
            // text and jsonb: variable length.
            Datum::from(ffi::pg_detoast_datum_copy(value.cast_mut_ptr()))
        })
    }
}

/// Whether a [`Column`] type is passed by value (8 bytes, `timestamptz`); the others are of
/// variable length.
fn by_value(type_oid: Oid) -> bool {
    type_oid == pg_sys::TIMESTAMPTZOID
}

/// The value of variable `name` of execution `execution_id`, as the statement `READ_ONE` (or
/// `READ_ONE_LOCKED`) of [`crate::storage::queries`] reads it: `Some(None)` when there is none or its lifetime ended
/// before the statement started, `None` when a probe cannot stand for the statement.
pub(crate) fn variable(execution_id: i64, name: &str, mode: Mode) -> Option<Option<Datum>> {
    let columns = [
        Column {
            name: c"var_value",
            type_oid: pg_sys::JSONBOID,
        },
        Column {
            name: c"expires_at",
            type_oid: pg_sys::TIMESTAMPTZOID,
        },
    ];
    match row(
        c"transient",
        c"var_name",
        execution_id,
        name,
        &columns,
        mode,
    ) {
        Probe::Unavailable => None,
        Probe::Missing => Some(None),
        Probe::Found(values) => {
            // SAFETY: reading the backend's statement start time has no preconditions.
            let now = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
            let live = values[1].is_none_or(|at| at.value() as i64 > now);
            Some(values[0].filter(|_| live))
        }
    }
}
