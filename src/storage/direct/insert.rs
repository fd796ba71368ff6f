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

/// Opens `noetl.{table}` for [`row_in`] (`INSERT` privilege and lock) as a probe of it also
/// needs it (`SELECT`): one open and one lock for a look-up followed by an insert. `None`
/// where statements must run, at REPEATABLE READ and SERIALIZABLE included.
pub(crate) fn open_for_insert(table: &CStr, key_column: &CStr) -> Option<Table> {
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
/// column of `columns`. False, having done nothing, where the statement must run.
pub(crate) fn row_in(table: &Table, columns: &[Column], values: &[Datum]) -> bool {
    // SAFETY: the table is open with RowExclusiveLock (open_for_insert).
    unsafe {
        match plain_table(table, columns) {
            Some(attnums) => {
                store(table, &attnums, values);
                true
            }
            None => false,
        }
    }
}

/// The attribute numbers of `columns`, if the table is exactly its key and these columns with
/// nothing that a statement would run or check beyond the primary key.
///
/// # Safety
/// `table` is open.
unsafe fn plain_table(table: &Table, columns: &[Column]) -> Option<Vec<i16>> {
    // SAFETY: the caller's: an open relation's catalog row, descriptor and index list.
    unsafe {
        let class = (*table.heap).rd_rel;
        let desc = (*table.heap).rd_att;
        if (*class).relhastriggers
            || (*class).relhasrules
            || (*class).relispartition
            || (!(*desc).constr.is_null() && (*(*desc).constr).num_check != 0)
        {
            return None;
        }
        // Every live column is given a value: no default, generated column or NOT NULL of a
        // column added later is skipped.
        let live = pgrx::PgTupleDesc::from_pg_unchecked(desc)
            .iter()
            .filter(|a| !a.attisdropped)
            .count();
        let indexes = pg_sys::RelationGetIndexList(table.heap);
        let only_index = !indexes.is_null() && (*indexes).length == 1;
        pg_sys::list_free(indexes);
        let attnums = table.attnums(columns)?;
        (live == columns.len() + 2 && only_index).then_some(attnums)
    }
}

/// Stores the row and its primary-key entry.
///
/// # Safety
/// `table` is open with `RowExclusiveLock` and checked by [`plain_table`]; `attnums` are
/// those of `values[2..]`.
unsafe fn store(table: &Table, attnums: &[i16], values: &[Datum]) {
    // SAFETY: the caller's. The slot has one value and null flag per attribute of the table.
    unsafe {
        let slot = pg_sys::table_slot_create(table.heap, std::ptr::null_mut());
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
        pg_sys::ExecStoreVirtualTuple(slot);
        let command = pg_sys::GetCurrentCommandId(true);
        pg_sys::table_tuple_insert(table.heap, slot, command, 0, std::ptr::null_mut());
        let info = pg_sys::BuildIndexInfo(table.index);
        let mut key_values = [values[0], values[1]];
        let mut key_nulls = [false, false];
        pg_sys::index_insert(
            table.index,
            key_values.as_mut_ptr(),
            key_nulls.as_mut_ptr(),
            &mut (*slot).tts_tid,
            table.heap,
            pg_sys::IndexUniqueCheck::UNIQUE_CHECK_YES,
            false,
            info,
        );
        #[cfg(any(feature = "pg17", feature = "pg18"))]
        pg_sys::index_insert_cleanup(table.index, info);
        pg_sys::ExecDropSingleTupleTableSlot(slot);
    }
}
