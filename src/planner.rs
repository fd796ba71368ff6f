//! Plans of the extension's own statements: index scans, whatever the table's size.
//!
//! Every statement that touches one execution ([`crate::queries::PER_EXECUTION`]) is a probe
//! of the primary key (or of its `execution_id` prefix). On a small table PostgreSQL's
//! estimates prefer a sequential scan (two pages read beat one index probe), and the generic
//! plan made then is kept for the backend's life: reading one variable of a 100-row table
//! cost ~80,000 instructions in that scan against ~35,000 for the whole read by the index
//! (callgrind, BENCHMARKS.md). A planner hook turns sequential scans off while one of these
//! statements is planned, and only then: any other statement, including those of user
//! triggers that the extension's writes fire, is planned as usual.

use std::cell::OnceCell;
use std::collections::HashSet;
use std::ffi::{c_char, c_int, CStr};

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::queries::PER_EXECUTION;

/// The hook that was installed before this one (another extension's), called in turn.
static mut PREVIOUS: pg_sys::planner_hook_type = None;

thread_local! {
    static OURS: OnceCell<HashSet<&'static str>> = const { OnceCell::new() };
}

/// Whether `sql` is one of the statements of [`PER_EXECUTION`].
fn is_per_execution(sql: &CStr) -> bool {
    let Ok(sql) = sql.to_str() else {
        return false;
    };
    OURS.with(|ours| {
        ours.get_or_init(|| PER_EXECUTION.iter().map(|q| q.sql).collect())
            .contains(sql)
    })
}

/// Puts `enable_seqscan` back as it was, also when planning fails.
struct SeqScansRestored(bool);

impl Drop for SeqScansRestored {
    fn drop(&mut self) {
        // SAFETY: a backend global, set back to the value it had before planning.
        unsafe { pg_sys::enable_seqscan = self.0 }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn plan(
    parse: *mut pg_sys::Query,
    query_string: *const c_char,
    cursor_options: c_int,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    // SAFETY: the planner's arguments, passed on unchanged; `query_string` is NULL or the
    // statement's NUL-terminated text, which outlives the call.
    unsafe {
        let ours = !query_string.is_null() && is_per_execution(CStr::from_ptr(query_string));
        let _restored = ours.then(|| {
            let before = pg_sys::enable_seqscan;
            pg_sys::enable_seqscan = false;
            SeqScansRestored(before)
        });
        match PREVIOUS {
            // Guarded like every call into PostgreSQL: an ERROR raised while planning unwinds
            // through this frame (restoring the setting) instead of jumping over it.
            Some(previous) => pg_sys::ffi::pg_guard_ffi_boundary(|| {
                previous(parse, query_string, cursor_options, bound_params)
            }),
            None => pg_sys::standard_planner(parse, query_string, cursor_options, bound_params),
        }
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
