//! `noetl_vars`: NoETL's execution-scoped workflow variables, stored and rendered inside
//! PostgreSQL.
//!
//! This crate is the thin PostgreSQL layer over `noetl_vars_core`. The SQL surface is in
//! [`api`] (with the argument checks it shares in [`args`]); below it are the internals:
//! running a vars block ([`render`], reading variables through [`vars_store`]) and a `set:` block ([`set`], its other scopes through [`scoped_store`] and [`scoped_queries`]), `jsonb` in and
//! out without text round trips ([`jsonb`]), SPI with kept plans ([`spi`], [`queries`],
//! [`table`], index scans by [`planner`]), locking ([`locks`]), settings and their protection ([`guc`], [`guard`]), history
//! and change events ([`changes`], [`notify`]), metered template memory ([`memory`]) and error
//! reporting ([`errors`]). The DDL is in `sql/`.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

/// Rust allocations are metered while templates run (a runaway template must not abort the
/// backend, see [`backend::memory`]). Not in the `cargo test` harness: that binary is an ordinary
/// executable without the server's symbols, and it never runs a template itself.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: backend::memory::Metered = backend::memory::Metered;

mod api;
mod backend;
mod blocks;
mod capture;
mod storage;

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!(
    "../sql/history.sql",
    name = "history",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/triggers.sql",
    name = "triggers",
    requires = ["history", capture::changes::capture_changes]
);
extension_sql_file!("../sql/admin.sql", name = "admin", requires = ["history"]);
extension_sql_file!("../sql/scopes.sql", name = "scopes", requires = ["history"]);
extension_sql_file!("../sql/events.sql", name = "events", requires = ["scopes"]);
extension_sql_file!("../sql/watch.sql", name = "watch", requires = ["events"]);
extension_sql_file!(
    "../sql/declarations.sql",
    name = "declarations",
    requires = [
        "watch",
        capture::declared::check_declared,
        api::declarations::check_schema
    ]
);
extension_sql_file!(
    "../sql/encryption.sql",
    name = "encryption",
    requires = ["declarations", api::encryption::rotate_keys]
);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    backend::guc::init();
    backend::catalog::init();
    capture::changes::init();
    capture::watch::init();
    storage::declarations::init();
    storage::planner::init();
    backend::check_constraints::init();
    noetl_vars_core::stack::set_enter_hook(|| {
        Box::new((StackBase::enter(), backend::memory::Meter::start()))
    });
    // Long template evaluations poll here, so cancel and statement_timeout take effect.
    noetl_vars_core::interrupt::set_poll_hook(poll_interrupts);
}

fn poll_interrupts() {
    pgrx::check_for_interrupts!();
    backend::memory::check();
}

/// PostgreSQL measures stack depth from a base address. Templates run on their own stack
/// (see `noetl_vars_core::stack`), so the base moves there for the duration and back after.
struct StackBase(pg_sys::pg_stack_base_t);

impl StackBase {
    fn enter() -> StackBase {
        // SAFETY: called first thing on the evaluation stack; the base it returns is restored
        // when the guard drops, before leaving that stack.
        StackBase(unsafe { pg_sys::set_stack_base() })
    }
}

impl Drop for StackBase {
    fn drop(&mut self) {
        // SAFETY: the base saved by `enter`, on the same thread.
        unsafe { pg_sys::restore_stack_base(self.0) }
    }
}

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    /// The library is preloaded, as docs/install.md says.
    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'noetl_vars'"]
    }
}
