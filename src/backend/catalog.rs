//! The extension's relations by name: `noetl.{name}`, looked up in the catalog caches at every
//! call (two probes, cheap beside any statement), so that an `ALTER EXTENSION … UPDATE` or a
//! dropped and re-created extension in another session is seen at once.

use std::ffi::CStr;

use pgrx::pg_sys::{self, Oid};

/// The OID of schema `noetl`, `InvalidOid` when it does not exist.
pub(crate) fn noetl_namespace() -> Oid {
    // SAFETY: a catalog-cache look-up by name inside a transaction (every caller is a SQL
    // function or a trigger); errors come back through pgrx's guarded FFI boundary.
    unsafe { pg_sys::get_namespace_oid(c"noetl".as_ptr(), true) }
}

/// The relation `noetl.{name}`, `None` when it (or the schema) does not exist.
pub(crate) fn noetl_relation(name: &CStr) -> Option<Oid> {
    let namespace = noetl_namespace();
    if namespace == pg_sys::InvalidOid {
        return None;
    }
    // SAFETY: as above.
    let oid = unsafe { pg_sys::get_relname_relid(name.as_ptr(), namespace) };
    (oid != pg_sys::InvalidOid).then_some(oid)
}
