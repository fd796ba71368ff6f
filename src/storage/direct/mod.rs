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

use std::cell::{Cell, RefCell};
use std::ffi::CStr;

use pgrx::pg_sys::{self, Oid};

use crate::backend::{catalog, citus, ffi};

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
    /// A slot for the table's rows, made at its first use ([`Table::slot`]) and kept: a probe
    /// and the insert that follows it share one.
    slot: Cell<*mut pg_sys::TupleTableSlot>,
}

impl Table {
    /// `noetl.{table}` with primary key `(execution_id, {key_column})`, if the caller holds
    /// `privileges` on the whole table and it passes the checks above; `None` where a
    /// statement must run instead.
    pub(crate) fn open(
        table: &CStr,
        key_column: &'static CStr,
        privileges: pg_sys::AclMode,
        lock: pg_sys::LOCKMODE,
    ) -> Option<Table> {
        // A distributed table's rows are in its shards, which only Citus's planner reaches.
        if citus::loaded() {
            return None;
        }
        let relid = catalog::noetl_relation(table)?;
        // SAFETY: on the backend's thread inside a transaction; the table is closed again on
        // the paths that do not return it.
        unsafe {
            // One error boundary for the privilege check and the open.
            let heap = ffi::boundary(|| {
                if ffi::pg_class_aclcheck(relid, ffi::GetUserId(), privileges)
                    != pg_sys::AclResult::ACLCHECK_OK
                {
                    return std::ptr::null_mut();
                }
                ffi::table_open(relid, lock)
            });
            if heap.is_null() {
                return None;
            }
            let wanted = [
                Column {
                    name: c"execution_id",
                    type_oid: pg_sys::INT8OID,
                },
                Column {
                    name: key_column,
                    type_oid: pg_sys::TEXTOID,
                },
            ];
            let keys = attnums(heap, &wanted).and_then(|k| <[i16; 2]>::try_from(k).ok());
            let index = keys.and_then(|k| primary_key(heap, &k, lock));
            match (keys, index) {
                (Some(keys), Some(index)) => Some(Table {
                    heap,
                    index,
                    keys,
                    slot: Cell::new(std::ptr::null_mut()),
                }),
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
        unsafe { attnums(self.heap, columns) }
    }
}

impl Table {
    /// The table's slot: empty, as each use leaves it ([`ffi::exec_clear_tuple`] at its end:
    /// a row's buffer pin is given back then, not when the table is closed). Made in the
    /// memory context current at its first use, which outlives the table.
    ///
    /// # Safety
    /// The memory context current at the first call lives until the table is dropped.
    unsafe fn slot(&self) -> *mut pg_sys::TupleTableSlot {
        let mut slot = self.slot.get();
        if slot.is_null() {
            // SAFETY: the caller's; a slot made here stays valid until Drop.
            slot = unsafe { pg_sys::table_slot_create(self.heap, std::ptr::null_mut()) };
            self.slot.set(slot);
        }
        slot
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: both were opened by Table::open and are closed once, after the slot made
        // for them (if any) is dropped; the locks stay until the transaction ends, as a
        // statement's do.
        unsafe {
            let (slot, index, heap) = (self.slot.get(), self.index, self.heap);
            ffi::boundary(|| {
                if !slot.is_null() {
                    ffi::ExecDropSingleTupleTableSlot(slot);
                }
                ffi::index_close(index, pg_sys::NoLock as _);
                ffi::table_close(heap, pg_sys::NoLock as _);
            });
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
/// with its type. Remembered per backend while no relation or schema is invalidated
/// ([`catalog::generation`], read after the table was locked).
///
/// # Safety
/// `heap` is open.
unsafe fn attnums(heap: pg_sys::Relation, wanted: &[Column]) -> Option<Vec<i16>> {
    // SAFETY: the caller's.
    let relid = unsafe { (*heap).rd_id };
    let generation = catalog::generation();
    let same = |r: &Remembered| {
        r.generation == generation
            && r.relid == relid
            && r.columns.len() == wanted.len()
            && r.columns
                .iter()
                .zip(wanted)
                .all(|(&(name, type_oid), w)| name == w.name && type_oid == w.type_oid)
    };
    if let Some(found) = REMEMBERED.with(|r| {
        r.borrow()
            .iter()
            .find(|r| same(r))
            .map(|r| r.attnums.clone())
    }) {
        return found;
    }
    // SAFETY: the caller's.
    let attnums = unsafe { look_up_attnums(heap, wanted) };
    REMEMBERED.with(|r| {
        let mut r = r.borrow_mut();
        r.retain(|r| r.generation == generation);
        r.truncate(REMEMBERED_MAX - 1);
        r.push(Remembered {
            generation,
            relid,
            columns: wanted.iter().map(|w| (w.name, w.type_oid)).collect(),
            attnums: attnums.clone(),
        });
    });
    attnums
}

/// Attribute numbers [`attnums`] worked out, by relation and the columns asked for.
struct Remembered {
    generation: u64,
    relid: Oid,
    columns: Vec<(&'static CStr, Oid)>,
    attnums: Option<Vec<i16>>,
}

/// The most look-ups [`attnums`] keeps (the extension asks for a handful).
const REMEMBERED_MAX: usize = 16;

thread_local! {
    static REMEMBERED: RefCell<Vec<Remembered>> = const { RefCell::new(Vec::new()) };
}

/// [`attnums`] read from the relation cache's descriptor: no catalog look-up per column.
///
/// # Safety
/// `heap` is open.
unsafe fn look_up_attnums(heap: pg_sys::Relation, wanted: &[Column]) -> Option<Vec<i16>> {
    // SAFETY: the caller's: an open relation's descriptor lives as long as it is open.
    let desc = unsafe { pgrx::PgTupleDesc::from_pg_unchecked((*heap).rd_att) };
    // One pass over the descriptor, each attribute's name compared with those still wanted.
    let mut found = vec![0i16; wanted.len()];
    for attr in desc.iter().filter(|a| !a.attisdropped) {
        let Some(i) = wanted
            .iter()
            .zip(&found)
            .position(|(w, &f)| f == 0 && is_name(&attr.attname, w.name))
        else {
            continue;
        };
        if attr.atttypid != wanted[i].type_oid {
            return None;
        }
        found[i] = attr.attnum;
    }
    found.iter().all(|&a| a > 0).then_some(found)
}

/// Whether `attname` is `name`: its bytes and the NUL that ends it (no `strlen` of either).
fn is_name(attname: &pg_sys::NameData, name: &CStr) -> bool {
    let name = name.to_bytes_with_nul();
    attname.data.len() >= name.len()
        && attname.data[..name.len()]
            .iter()
            .zip(name)
            .all(|(&a, &b)| a as u8 == b)
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
        let index = ffi::boundary(|| {
            #[cfg(not(feature = "pg18"))]
            let index_oid = ffi::RelationGetPrimaryKeyIndex(heap);
            #[cfg(feature = "pg18")]
            let index_oid = ffi::RelationGetPrimaryKeyIndex(heap, false);
            if index_oid == pg_sys::InvalidOid {
                return std::ptr::null_mut();
            }
            ffi::index_open(index_oid, lock)
        });
        if index.is_null() {
            return None;
        }
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
