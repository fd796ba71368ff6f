//! Plans of the extension's own statements: index scans, whatever the table's size.
//!
//! Every statement that touches one execution ([`crate::storage::queries::PER_EXECUTION`]) is a probe
//! of the primary key (or of its `execution_id` prefix). On a small table PostgreSQL's
//! estimates prefer a sequential scan (two pages read beat one index probe), and the generic
//! plan made then is kept for the backend's life: reading one variable of a 100-row table
//! cost ~80,000 instructions in that scan against ~35,000 for the whole read by the index
//! (callgrind, docs/benchmarks.md). A planner hook turns sequential scans off while one of these
//! statements is planned, and only then: any other statement, including those of user
//! triggers that the extension's writes fire, is planned as usual.
//!
//! The hook runs for every statement of every backend that loaded the library, so it stays
//! out of the way: a statement is recognised by comparing its text with the known
//! ones byte by byte, stopping at the first difference (a client may send megabytes of
//! statements in one message, and each is planned with that whole text); and it catches no
//! error. The setting is changed the way a function's `SET` clause changes it, in a GUC nest
//! level: restored after planning, or by the (sub)transaction's abort when planning fails,
//! so an error passes through untouched, with its context and fields.

use std::ffi::{c_char, c_int};

use pgrx::pg_sys;

use crate::storage::legacy_queries::LEGACY;
use crate::storage::queries::PER_EXECUTION;
use crate::storage::scoped_queries::SCOPED;

/// The hook that was installed before this one (another extension's), called in turn.
static mut PREVIOUS: pg_sys::planner_hook_type = None;

// PostgreSQL's own planner, called without pgrx's error guard: an ERROR raised while planning
// must reach PostgreSQL's handler as it was raised, and this module's frames hold nothing
// that would need dropping when it jumps over them.
unsafe extern "C-unwind" {
    #[link_name = "standard_planner"]
    fn standard_planner_unguarded(
        parse: *mut pg_sys::Query,
        query_string: *const c_char,
        cursor_options: c_int,
        bound_params: pg_sys::ParamListInfo,
    ) -> *mut pg_sys::PlannedStmt;
}

/// Whether the NUL-terminated `text` is exactly `sql`, reading no further than the first byte
/// that differs.
///
/// # Safety
/// `text` must point to a NUL-terminated string.
unsafe fn is_exactly(text: *const c_char, sql: &str) -> bool {
    for (i, byte) in sql.bytes().enumerate() {
        // SAFETY: the bytes before `i` matched `sql`, which has no NUL, so the string goes on
        // at least to `i` (its NUL at the latest).
        if unsafe { *text.add(i) } as u8 != byte {
            return false;
        }
    }
    // SAFETY: as above, for the byte after the last one compared.
    unsafe { *text.add(sql.len()) == 0 }
}

/// Whether `text` is one of the statements of [`PER_EXECUTION`], [`LEGACY`] or [`SCOPED`].
///
/// # Safety
/// `text` must be NULL or point to a NUL-terminated string.
unsafe fn is_per_execution(text: *const c_char) -> bool {
    // SAFETY: the caller's.
    !text.is_null()
        && PER_EXECUTION
            .iter()
            .chain(LEGACY.iter())
            .chain(SCOPED.iter())
            .any(|q| unsafe { is_exactly(text, q.sql) })
}

/// The next planner: another extension's hook, or PostgreSQL's.
///
/// # Safety
/// The planner's own arguments.
unsafe fn next(
    parse: *mut pg_sys::Query,
    query_string: *const c_char,
    cursor_options: c_int,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    // SAFETY: the caller's; PREVIOUS is only written by `init`, before any planning.
    unsafe {
        match PREVIOUS {
            Some(previous) => previous(parse, query_string, cursor_options, bound_params),
            None => standard_planner_unguarded(parse, query_string, cursor_options, bound_params),
        }
    }
}

/// The hook. Not `#[pg_guard]`ed, on purpose (see the module comment): nothing in it panics,
/// and everything it calls is either PostgreSQL's own code or pgrx-guarded.
unsafe extern "C-unwind" fn plan(
    parse: *mut pg_sys::Query,
    query_string: *const c_char,
    cursor_options: c_int,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    // SAFETY: the planner's arguments, passed on unchanged; `query_string` is NULL or the
    // statement's NUL-terminated text.
    unsafe {
        if !is_per_execution(query_string) {
            return next(parse, query_string, cursor_options, bound_params);
        }
        // As fmgr does for a function's SET clause: a nest level, the value saved in it.
        let level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"enable_seqscan".as_ptr(),
            c"off".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        let planned = next(parse, query_string, cursor_options, bound_params);
        pg_sys::AtEOXact_GUC(true, level);
        planned
    }
}

/// Installs the hook; called once from `_PG_init`.
pub fn init() {
    // SAFETY: `_PG_init` runs once per backend, before any statement is planned with this
    // library loaded; the previous hook is kept and called.
    unsafe {
        PREVIOUS = pg_sys::planner_hook;
        pg_sys::planner_hook = Some(plan);
    }
}

#[cfg(test)]
mod tests {
    use super::is_exactly;

    #[test]
    fn a_statement_is_recognised_by_its_whole_text_only() {
        let sql = "SELECT 1";
        let is = |text: &std::ffi::CStr| unsafe { is_exactly(text.as_ptr(), sql) };
        assert!(is(c"SELECT 1"));
        assert!(!is(c"SELECT 1; SELECT 2"));
        assert!(!is(c"SELECT"));
        assert!(!is(c""));
        assert!(!is(c"SELECT 2"));
    }
}
