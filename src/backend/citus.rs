//! Citus (docs/scale-out.md). When its library is loaded (Citus is only ever loaded through
//! `shared_preload_libraries`, so in every backend of the server or in none), the extension's
//! tables may be distributed: their rows then live in shards that only Citus's planner
//! reaches. The extension then works through statements alone: no table's heap read or
//! written directly (`storage::direct`), no CHECK constraints prepared in the executor-start
//! hook (`check_constraints`), and statements planned for each call, as Citus routes a
//! statement by the value of its distribution column (with a generic plan it sees only a
//! parameter). The extension's triggers also fire on the shards of its tables.

use std::cell::OnceCell;
use std::ffi::CStr;

use pgrx::pg_sys;

thread_local! {
    static LOADED: OnceCell<bool> = const { OnceCell::new() };
}

/// Whether Citus's library is loaded in this backend (one of its settings exists), looked up
/// once.
pub(crate) fn loaded() -> bool {
    LOADED.with(|loaded| {
        *loaded.get_or_init(|| {
            // SAFETY: a settings look-up by name on the backend's thread; missing_ok.
            let value = unsafe {
                pg_sys::GetConfigOption(c"citus.enable_local_execution".as_ptr(), true, false)
            };
            !value.is_null()
        })
    })
}

/// Whether Citus is loaded and its tables exist in this database (`CREATE EXTENSION citus`),
/// looked up each time: the extension may be created after the backend started.
pub(crate) fn metadata() -> bool {
    let catalog = pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE);
    // SAFETY: a catalog-cache look-up by name; every caller is inside a transaction.
    loaded()
        && unsafe { pg_sys::get_relname_relid(c"pg_dist_partition".as_ptr(), catalog) }
            != pg_sys::InvalidOid
}

/// Whether `relation` is named as Citus names the shards of `table`: the table's name, an
/// underscore and the shard's id.
pub(crate) fn is_shard_name(relation: &CStr, table: &CStr) -> bool {
    relation
        .to_bytes()
        .strip_prefix(table.to_bytes())
        .and_then(|rest| rest.strip_prefix(b"_"))
        .is_some_and(|id| !id.is_empty() && id.iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::is_shard_name;

    #[test]
    fn a_shard_name_is_the_table_s_an_underscore_and_digits() {
        assert!(is_shard_name(c"transient_102008", c"transient"));
        assert!(!is_shard_name(c"transient", c"transient"));
        assert!(!is_shard_name(c"transient_", c"transient"));
        assert!(!is_shard_name(c"transient_history_102040", c"transient"));
        assert!(!is_shard_name(c"transient_1x", c"transient"));
        assert!(!is_shard_name(c"xtransient_1", c"transient"));
    }
}
