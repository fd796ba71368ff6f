//! Rows of the extension's own tables read and written without a statement: primary-key
//! probes ([`probe`]) and the recording of an event ([`insert`]).
//!
//! A statement run through SPI pays for its plan-cache check, executor start-up and shutdown,
//! which for a one-row look-up or insert is most of its cost (docs/benchmarks.md). The
//! functions here do the same work through the table and index access methods, only where the
//! result is exactly what the statement would give: the table is a plain table without
//! row-level security, the caller holds the privilege the statement needs on the whole table,
//! its primary key is a valid btree index on `(execution_id bigint, key text)`, and the
//! columns exist with the types expected. Anything else (a column-level grant, a policy, an
//! extension still older than the columns) returns "unavailable" and the caller runs its
//! statement, which then decides as before, its errors included. (TimescaleDB writes its own
//! catalog tables the same way.)

use std::ffi::CStr;

use pgrx::pg_sys::{self, Oid};

use crate::backend::catalog;

pub(crate) mod insert;
pub(crate) mod probe;

/// A table of the extension and its primary key, open (with the lock a statement would take,
/// held to the end of the transaction) and checked: a plain table without row-level security,
/// its primary key a valid btree index on exactly `(execution_id bigint, key text)`. Closed
/// when dropped, also while unwinding from an ERROR.
pub(crate) struct Table {
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    /// The attribute numbers of `execution_id` and of the key column.
    keys: [i16; 2],
}

impl Table {
    /// `noetl.{table}` with primary key `(execution_id, {key_column})`, if the caller holds
    /// `privileges` on the whole table and it passes the checks above; `None` where a
    /// statement must run instead.
    pub(crate) fn open(
        table: &CStr,
        key_column: &CStr,
        privileges: pg_sys::AclMode,
        lock: pg_sys::LOCKMODE,
    ) -> Option<Table> {
        let relid = catalog::noetl_relation(table)?;
        // SAFETY: on the backend's thread inside a transaction; the table is closed again on
        // the paths that do not return it.
        unsafe {
            if pg_sys::pg_class_aclcheck(relid, pg_sys::GetUserId(), privileges)
                != pg_sys::AclResult::ACLCHECK_OK
            {
                return None;
            }
            let heap = pg_sys::table_open(relid, lock);
            let wanted = [
                (c"execution_id", pg_sys::INT8OID),
                (key_column, pg_sys::TEXTOID),
            ];
            let keys = attnums(heap, wanted).and_then(|k| <[i16; 2]>::try_from(k).ok());
            let index = keys.and_then(|k| primary_key(heap, &k, lock));
            match (keys, index) {
                (Some(keys), Some(index)) => Some(Table { heap, index, keys }),
                _ => {
                    pg_sys::table_close(heap, pg_sys::NoLock as _);
                    None
                }
            }
        }
    }

    /// The attribute numbers of `columns`, if each exists with its type.
    pub(crate) fn attnums(&self, columns: &[Column]) -> Option<Vec<i16>> {
        // SAFETY: the table is open.
        unsafe { attnums(self.heap, columns.iter().map(|c| (c.name, c.type_oid))) }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: both were opened by Table::open and are closed once; the locks stay until
        // the transaction ends, as a statement's do.
        unsafe {
            pg_sys::index_close(self.index, pg_sys::NoLock as _);
            pg_sys::table_close(self.heap, pg_sys::NoLock as _);
        }
    }
}

/// A column: its name and type, `timestamptz` (by value) or one of variable length (`text`,
/// `jsonb`).
pub(crate) struct Column {
    pub name: &'static CStr,
    pub type_oid: Oid,
}

/// The attribute numbers of the `wanted` columns of the open table `heap`, if each exists
/// with its type. Read from the relation cache's descriptor: no catalog look-up per column.
///
/// # Safety
/// `heap` is open.
unsafe fn attnums<'c>(
    heap: pg_sys::Relation,
    wanted: impl IntoIterator<Item = (&'c CStr, Oid)>,
) -> Option<Vec<i16>> {
    // SAFETY: the caller's: an open relation's descriptor lives as long as it is open.
    let desc = unsafe { pgrx::PgTupleDesc::from_pg_unchecked((*heap).rd_att) };
    wanted
        .into_iter()
        .map(|(name, type_oid)| {
            let attr = desc.iter().find(|a| {
                !a.attisdropped
                    // SAFETY: a NameData is a NUL-terminated name.
                    && unsafe { CStr::from_ptr(a.attname.data.as_ptr()) } == name
            })?;
            (attr.atttypid == type_oid).then_some(attr.attnum)
        })
        .collect()
}

/// The primary-key index of `heap`, opened with `lock`, if it can be used: a plain table
/// without row-level security whose primary key is a valid btree index on exactly `keys`
/// (no other column).
///
/// # Safety
/// `heap` is open.
unsafe fn primary_key(
    heap: pg_sys::Relation,
    keys: &[i16],
    lock: pg_sys::LOCKMODE,
) -> Option<pg_sys::Relation> {
    // SAFETY: the caller's: an open relation, whose catalog row and index list the relation
    // cache keeps.
    unsafe {
        let class = (*heap).rd_rel;
        if (*class).relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char
            || (*class).relrowsecurity
        {
            return None;
        }
        #[cfg(not(feature = "pg18"))]
        let index_oid = pg_sys::RelationGetPrimaryKeyIndex(heap);
        #[cfg(feature = "pg18")]
        let index_oid = pg_sys::RelationGetPrimaryKeyIndex(heap, false);
        if index_oid == pg_sys::InvalidOid {
            return None;
        }
        let index = pg_sys::index_open(index_oid, lock);
        let form = (*index).rd_index;
        let types = [pg_sys::INT8OID, pg_sys::TEXTOID];
        let usable = (*(*index).rd_rel).relam == pg_sys::BTREE_AM_OID
            && (*form).indisvalid
            && (*form).indnkeyatts as usize == keys.len()
            && (*form).indnatts as usize == keys.len()
            && (*form).indkey.values.as_slice(keys.len()) == keys
            && (0..keys.len()).all(|i| *(*index).rd_opcintype.add(i) == types[i]);
        if usable {
            Some(index)
        } else {
            pg_sys::index_close(index, pg_sys::NoLock as _);
            None
        }
    }
}
