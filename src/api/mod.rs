//! The SQL surface: every function an application or operator calls, grouped as
//! docs/reference.md groups them. Each checks its arguments, takes its locks and hands the work
//! to the internals below (`crate::blocks`, `crate::storage`, …), which know nothing of SQL
//! argument lists; [`args`] holds the argument checks they share. Grants and comments of these
//! functions are in `sql/finalize.sql`. A function whose arguments changed keeps its old entry
//! point for definitions not updated yet ([`entry_points_0_5`]).

mod admin;
pub(crate) mod args;
pub(crate) mod declarations;
pub(crate) mod encryption;
mod entry_points_0_5;
pub(crate) mod purge;
mod responses;
mod resume;
mod set_blocks;
mod store;
mod vars_blocks;
