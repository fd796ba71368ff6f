//! One row inserted without a statement: the recording of an applied event
//! (`noetl.applied_events`), which every first delivery of an event id writes.
//!
//! `INSERT … VALUES` through SPI costs about 50,000 instructions, two thirds of them the
//! statement's start-up and shutdown; the row itself (heap and primary key) is the rest. Here
//! the table access method stores the row and the index access method checks and inserts its
//! key, as the executor would (unique violations included, with the same message), on a table
//! exactly as the extension made it: the columns given and no other, no trigger, rule, CHECK
//! constraint, policy or partition, and no index but the primary key. Otherwise, and at
//! REPEATABLE READ or SERIALIZABLE (where the statement's `ON CONFLICT` turns a late duplicate
//! into a serialization failure), the caller runs its statement.

use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum};

use super::{Column, Table};
use crate::backend::ffi;

/// Opens `noetl.{table}` for [`row_in`] (`INSERT` privilege and lock) as a probe of it also
/// needs it (`SELECT`): one open and one lock for a look-up followed by an insert. `None`
/// where statements must run, at REPEATABLE READ and SERIALIZABLE included.
pub(crate) fn open_for_insert(table: &CStr, key_column: &'static CStr) -> Option<Table> {
    // SAFETY: a backend global.
    if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
        return None;
    }
    let privileges = pg_sys::ACL_SELECT | pg_sys::ACL_INSERT;
    Table::open(
        table,
        key_column,
        privileges as _,
        pg_sys::RowExclusiveLock as _,
    )
}

/// Inserts one row into `table` (from [`open_for_insert`]), none of its values NULL:
/// `values[0]` its `execution_id` and `values[1]` its key (the primary key), then one per
/// column of `columns`, whose attribute numbers are `attnums` ([`Table::attnums`]). False,
/// having done nothing, where the statement must run.
pub(crate) fn row_in(table: &Table, columns: &[Column], attnums: &[i16], values: &[Datum]) -> bool {
    assert!(attnums.len() == columns.len() && values.len() == columns.len() + 2);
    // SAFETY: the table is open with RowExclusiveLock (open_for_insert); `attnums` are those
    // of `columns` in it; the slot's memory context is the caller's, which outlives the table.
    unsafe {
        if !plain_table(table, columns) {
            return false;
        }
        store(table, attnums, values);
    }
    true
}

/// Whether the table is exactly its key and `columns`, with nothing that a statement would
/// run or check beyond the primary key.
///
/// # Safety
/// `table` is open.
unsafe fn plain_table(table: &Table, columns: &[Column]) -> bool {
    // SAFETY: the caller's: an open relation's catalog row, descriptor and index list.
    unsafe {
        let class = (*table.heap).rd_rel;
        let desc = (*table.heap).rd_att;
        if (*class).relhastriggers
            || (*class).relhasrules
            || (*class).relispartition
            || (!(*desc).constr.is_null() && (*(*desc).constr).num_check != 0)
        {
            return false;
        }
        // Every column is given a value: no default, generated column or NOT NULL of a column
        // added later is skipped. (The key and `columns` were found among the live columns;
        // a table with a dropped column has its rows written by the statement.)
        (*desc).natts as usize == columns.len() + 2 && only_index(table.heap)
    }
}

/// Whether the table has one index (its primary key, which [`Table::open`] checked): the
/// relation cache's list read where it is valid, without the copy `RelationGetIndexList`
/// makes.
///
/// # Safety
/// `heap` is open.
unsafe fn only_index(heap: pg_sys::Relation) -> bool {
    // SAFETY: the caller's: an open relation; its index list is the cache's while
    // rd_indexvalid says so, and is read before anything could rebuild it.
    unsafe {
        if (*heap).rd_indexvalid {
            let list = (*heap).rd_indexlist;
            return !list.is_null() && (*list).length == 1;
        }
        let indexes = pg_sys::RelationGetIndexList(heap);
        let only = !indexes.is_null() && (*indexes).length == 1;
        pg_sys::list_free(indexes);
        only
    }
}

/// Stores the row and its primary-key entry.
///
/// # Safety
/// `table` is open with `RowExclusiveLock` and checked by [`plain_table`]; `attnums` are
/// those of `values[2..]`; the slot's memory context outlives the table.
unsafe fn store(table: &Table, attnums: &[i16], values: &[Datum]) {
    // SAFETY: the caller's. The slot has one value and null flag per attribute of the table.
    unsafe {
        let slot = table.slot();
        let natts = (*(*table.heap).rd_att).natts as usize;
        for i in 0..natts {
            *(*slot).tts_values.add(i) = Datum::from(0usize);
            *(*slot).tts_isnull.add(i) = true;
        }
        for (&attnum, &value) in table.keys.iter().chain(attnums).zip(values) {
            let i = attnum as usize - 1;
            *(*slot).tts_values.add(i) = value;
            *(*slot).tts_isnull.add(i) = false;
        }
        // `table_tuple_insert` (an inline function of PostgreSQL's headers) calls the table
        // access method's callback, which every access method has.
        let Some(tuple_insert) = (*(*table.heap).rd_tableam).tuple_insert else {
            pgrx::error!("noetl_vars: the table's access method cannot insert");
        };
        let (heap, index) = (table.heap, table.index);
        let mut key_values = [values[0], values[1]];
        let mut key_nulls = [false, false];
        // One error boundary for the heap and index insertions.
        ffi::boundary(|| {
            ffi::ExecStoreVirtualTuple(slot);
            tuple_insert(
                heap,
                slot,
                ffi::GetCurrentCommandId(true),
                0,
                std::ptr::null_mut(),
            );
            let info = ffi::BuildIndexInfo(index);
            ffi::index_insert(
                index,
                key_values.as_mut_ptr(),
                key_nulls.as_mut_ptr(),
                &mut (*slot).tts_tid,
                heap,
                pg_sys::IndexUniqueCheck::UNIQUE_CHECK_YES,
                false,
                info,
            );
            #[cfg(any(feature = "pg17", feature = "pg18"))]
            ffi::index_insert_cleanup(index, info);
            ffi::exec_clear_tuple(slot);
        });
    }
}
