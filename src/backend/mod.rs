//! The backend: what the extension needs of the PostgreSQL process it runs in. Its relations
//! by name ([`catalog`]), its settings
//! ([`guc`]) and the refusal of weakened ones ([`guard`]), SQLSTATEs and reporting
//! ([`errors`]), the Rust heap metered while templates run ([`memory`]), advisory locks in one
//! order within a budget ([`locks`]), and table privileges checked before a lock is taken
//! ([`privileges`]); the checks that keep its trigger functions on their own tables
//! ([`triggers`]); the CHECK constraints of its writing statements, read once per backend
//! ([`check_constraints`]); the calls of the hot paths into PostgreSQL made several under one
//! error boundary ([`ffi`]); what changes when Citus is loaded ([`citus`]).

pub(crate) mod catalog;
pub(crate) mod check_constraints;
pub(crate) mod citus;
pub(crate) mod errors;
pub(crate) mod ffi;
pub(crate) mod guard;
pub(crate) mod guc;
pub(crate) mod keys;
pub(crate) mod locks;
pub(crate) mod memory;
pub(crate) mod privileges;
pub(crate) mod triggers;
