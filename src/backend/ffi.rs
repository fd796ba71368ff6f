//! PostgreSQL functions called several at a time under one error boundary.
//!
//! Each function of `pgrx::pg_sys` sets up its own boundary for PostgreSQL's errors (a
//! `sigsetjmp` and pgrx's bookkeeping, about 120 instructions a call): for the dozen calls of
//! a primary-key probe, more than the probe's own bookkeeping (docs/benchmarks.md). The hot
//! paths of `storage::direct` call the declarations below instead, inside one [`boundary`]:
//! an ERROR raised by any of them is caught there and becomes a Rust panic, as pgrx does for
//! one call.
//!
//! The rules are pgrx's for `pg_guard_ffi_boundary`: the closure holds no value with a
//! destructor and does not panic (an ERROR longjmps over its frames to the boundary), only
//! plain data and these calls. Each declaration is checked at compile time against pgrx's
//! binding of the same function for the major being built: a signature PostgreSQL changes
//! (as 18 did for `index_beginscan`) fails the build instead of calling with the wrong
//! arguments.

use pgrx::pg_sys::{
    self, AttrNumber, Datum, IndexScanDesc, Oid, RegProcedure, Relation, ScanDirection, ScanKey,
    Snapshot, StrategyNumber, TupleTableSlot,
};
use std::ffi::{c_char, c_int};

/// Runs `f`, which calls functions of this module, under one boundary for PostgreSQL's
/// errors.
///
/// # Safety
/// On the backend's thread. `f` holds no value with a destructor and does not panic.
pub(crate) unsafe fn boundary<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: the caller's.
    unsafe { pg_sys::ffi::pg_guard_ffi_boundary(f) }
}

/// Declares the functions without pgrx's boundary, each with a compile-time check that its
/// signature is pgrx's.
macro_rules! unguarded {
    ($( $(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?; )*) => {
        unsafe extern "C-unwind" {
            $(
                $(#[$attr])*
                pub(crate) fn $name($($arg: $ty),*) $(-> $ret)?;
            )*
        }
        $(
            $(#[$attr])*
            const _: unsafe fn($($ty),*) $(-> $ret)? = pg_sys::$name;
        )*
    };
}

unguarded! {
    fn PushActiveSnapshot(snapshot: Snapshot);
    fn PopActiveSnapshot();
    fn GetTransactionSnapshot() -> Snapshot;
    fn GetActiveSnapshot() -> Snapshot;
    fn CommandCounterIncrement();
    fn UpdateActiveSnapshotCommandId();
    fn cstring_to_text_with_len(s: *const c_char, len: c_int) -> *mut pg_sys::text;
    fn ScanKeyEntryInitialize(
        entry: ScanKey,
        flags: c_int,
        attribute_number: AttrNumber,
        strategy: StrategyNumber,
        subtype: Oid,
        collation: Oid,
        procedure: RegProcedure,
        argument: Datum,
    );
    #[cfg(not(feature = "pg18"))]
    fn index_beginscan(
        heap: Relation,
        index: Relation,
        snapshot: Snapshot,
        nkeys: c_int,
        norderbys: c_int,
    ) -> IndexScanDesc;
    #[cfg(feature = "pg18")]
    fn index_beginscan(
        heap: Relation,
        index: Relation,
        snapshot: Snapshot,
        instrument: *mut pg_sys::IndexScanInstrumentation,
        nkeys: c_int,
        norderbys: c_int,
    ) -> IndexScanDesc;
    fn index_rescan(
        scan: IndexScanDesc,
        keys: ScanKey,
        nkeys: c_int,
        orderbys: ScanKey,
        norderbys: c_int,
    );
    fn index_getnext_slot(
        scan: IndexScanDesc,
        direction: ScanDirection::Type,
        slot: *mut TupleTableSlot,
    ) -> bool;
    fn index_endscan(scan: IndexScanDesc);
    fn GetUserId() -> Oid;
    fn pg_class_aclcheck(table_oid: Oid, roleid: Oid, mode: pg_sys::AclMode) -> pg_sys::AclResult::Type;
    fn table_open(relation_id: Oid, lockmode: pg_sys::LOCKMODE) -> Relation;
    fn table_close(relation: Relation, lockmode: pg_sys::LOCKMODE);
    fn index_open(relation_id: Oid, lockmode: pg_sys::LOCKMODE) -> Relation;
    fn index_close(relation: Relation, lockmode: pg_sys::LOCKMODE);
    #[cfg(not(feature = "pg18"))]
    fn RelationGetPrimaryKeyIndex(relation: Relation) -> Oid;
    #[cfg(feature = "pg18")]
    fn RelationGetPrimaryKeyIndex(relation: Relation, deferrable_ok: bool) -> Oid;
    fn ExecDropSingleTupleTableSlot(slot: *mut TupleTableSlot);
    fn ExecStoreVirtualTuple(slot: *mut TupleTableSlot) -> *mut TupleTableSlot;
    fn GetCurrentCommandId(used: bool) -> pg_sys::CommandId;
    fn GetCurrentTransactionStartTimestamp() -> pg_sys::TimestampTz;
    fn BuildIndexInfo(index: Relation) -> *mut pg_sys::IndexInfo;
    fn index_insert(
        index: Relation,
        values: *mut Datum,
        isnull: *mut bool,
        heap_tid: pg_sys::ItemPointer,
        heap: Relation,
        check_unique: pg_sys::IndexUniqueCheck::Type,
        index_unchanged: bool,
        index_info: *mut pg_sys::IndexInfo,
    ) -> bool;
    #[cfg(any(feature = "pg17", feature = "pg18"))]
    fn index_insert_cleanup(index: Relation, index_info: *mut pg_sys::IndexInfo);
    fn slot_getsomeattrs_int(slot: *mut TupleTableSlot, attnum: c_int);
    fn pg_detoast_datum_copy(datum: *mut pg_sys::varlena) -> *mut pg_sys::varlena;
}

/// `slot_getattr` (an inline function of PostgreSQL's headers): attribute `attnum` of the row
/// in `slot`, and whether it is NULL.
///
/// # Safety
/// Inside a [`boundary`]; `slot` holds a row with at least `attnum` attributes.
pub(crate) unsafe fn slot_getattr(slot: *mut TupleTableSlot, attnum: c_int) -> (Datum, bool) {
    // SAFETY: the caller's: the slot's arrays have an entry per attribute, valid up to
    // tts_nvalid once deformed.
    unsafe {
        if attnum > c_int::from((*slot).tts_nvalid) {
            slot_getsomeattrs_int(slot, attnum);
        }
        let i = attnum as usize - 1;
        (*(*slot).tts_values.add(i), *(*slot).tts_isnull.add(i))
    }
}

/// `ExecClearTuple` (an inline function of PostgreSQL's headers): empties `slot`, giving
/// back the buffer pin or memory of the row it held.
///
/// # Safety
/// Inside a [`boundary`]; `slot` is a valid slot.
pub(crate) unsafe fn exec_clear_tuple(slot: *mut TupleTableSlot) {
    // SAFETY: the caller's; every slot's operations have `clear`.
    unsafe {
        if let Some(clear) = (*(*slot).tts_ops).clear {
            clear(slot);
        }
    }
}
