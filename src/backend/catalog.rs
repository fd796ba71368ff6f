//! The extension's relations by name: `noetl.{name}`, looked up in the catalog caches once per
//! backend and remembered until PostgreSQL invalidates what was found (the relation, or any
//! schema). A relation dropped, renamed or moved, a schema renamed or dropped, and a dropped
//! and re-created extension all send such an invalidation, which every transaction receives
//! when it starts, so an `ALTER EXTENSION … UPDATE` in another session is seen at once. Only
//! what exists is remembered: a name not found is looked up again at the next call.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, CStr, CString};

use pgrx::pg_guard;
use pgrx::pg_sys::{self, Oid};

thread_local! {
    static KNOWN: RefCell<Known> = RefCell::new(Known::default());
    /// Set by an invalidation: [`KNOWN`] is forgotten at the next look-up.
    static STALE: Cell<bool> = const { Cell::new(false) };
    /// Counts those invalidations ([`generation`]).
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// A number that changes at every invalidation of any relation or schema: what a caller
/// works out from a relation's descriptor, read after locking the relation (which takes the
/// invalidations sent meanwhile), can be kept with the number and used while it stays the
/// same.
pub(crate) fn generation() -> u64 {
    GENERATION.with(Cell::get)
}

/// Moves [`generation`] on.
fn next_generation() {
    GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
}

/// What this backend found.
#[derive(Default)]
struct Known {
    namespace: Option<Oid>,
    relations: Vec<(CString, Oid)>,
}

/// Forgets what was found if an invalidation came since.
fn forget_if_stale() {
    if STALE.with(|s| s.replace(false)) {
        KNOWN.with(|k| *k.borrow_mut() = Known::default());
    }
}

/// The OID of schema `noetl`, `InvalidOid` when it does not exist.
pub(crate) fn noetl_namespace() -> Oid {
    forget_if_stale();
    if let Some(namespace) = KNOWN.with(|k| k.borrow().namespace) {
        return namespace;
    }
    // SAFETY: a catalog-cache look-up by name inside a transaction (every caller is a SQL
    // function or a trigger); errors come back through pgrx's guarded FFI boundary.
    let namespace = unsafe { pg_sys::get_namespace_oid(c"noetl".as_ptr(), true) };
    if namespace != pg_sys::InvalidOid {
        KNOWN.with(|k| k.borrow_mut().namespace = Some(namespace));
    }
    namespace
}

/// The relation `noetl.{name}`, `None` when it (or the schema) does not exist.
pub(crate) fn noetl_relation(name: &CStr) -> Option<Oid> {
    let namespace = noetl_namespace();
    if namespace == pg_sys::InvalidOid {
        return None;
    }
    let known = KNOWN.with(|k| {
        let k = k.borrow();
        k.relations
            .iter()
            .find(|(n, _)| n.as_c_str() == name)
            .map(|(_, oid)| *oid)
    });
    if known.is_some() {
        return known;
    }
    // SAFETY: as above.
    let oid = unsafe { pg_sys::get_relname_relid(name.as_ptr(), namespace) };
    if oid == pg_sys::InvalidOid {
        return None;
    }
    KNOWN.with(|k| k.borrow_mut().relations.push((name.to_owned(), oid)));
    Some(oid)
}

/// A relation found here, or every relation, invalidated.
#[pg_guard]
unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, relid: Oid) {
    next_generation();
    // While a look-up holds the list (a catalog read may take invalidations), assume it is.
    let found = KNOWN.with(|k| {
        k.try_borrow()
            .map_or(true, |k| k.relations.iter().any(|(_, oid)| *oid == relid))
    });
    if relid == pg_sys::InvalidOid || found {
        STALE.with(|s| s.set(true));
    }
}

/// A schema changed: renamed, dropped or created under the name `noetl`.
#[pg_guard]
unsafe extern "C-unwind" fn on_namespace(_arg: pg_sys::Datum, _cache: c_int, _hash: u32) {
    next_generation();
    STALE.with(|s| s.set(true));
}

/// Registers the invalidation callbacks; called once from `_PG_init`.
pub fn init() {
    // SAFETY: static functions that live as long as the library.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0usize));
        pg_sys::CacheRegisterSyscacheCallback(
            pg_sys::SysCacheIdentifier::NAMESPACEOID as c_int,
            Some(on_namespace),
            pg_sys::Datum::from(0usize),
        );
    }
}
