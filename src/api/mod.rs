//! The SQL surface: every function an application or operator calls, grouped as docs/reference.md
//! groups them. Each checks its arguments, takes its locks and hands the work to the internals
//! below (`crate::blocks`, `crate::table`, `crate::jsonb`, …), which know nothing of SQL
//! argument lists. Grants and comments of these functions are in `sql/finalize.sql`.

mod admin;
mod render;
mod responses;
mod set;
mod store;
