//! Typed variables at the tables: plain SQL writes of the `set:` scopes' tables checked
//! against the declarations (the change trigger of `noetl.transient` checks its own, in
//! [`crate::capture::changes`]), and the statement trigger of `noetl.declarations` that tells
//! every session to read them again ([`crate::storage::declarations`]).

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::backend::triggers::{trigger_data, Fires};
use crate::storage::datum::{self, column};
use crate::storage::declarations;

/// The `WHEN` of the scoped tables' triggers: [`declarations::must_check`].
#[pg_extern(stable, parallel_safe)]
fn check_declared() -> bool {
    crate::backend::guard::check();
    declarations::must_check()
}

/// `AFTER INSERT OR UPDATE ON noetl.{step,workflow,global}_vars FOR EACH ROW`, declared in
/// `sql/declarations.sql`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn scoped_changed_wrapper(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: PostgreSQL passes the call's own fcinfo; trigger_data checks it is a row
    // trigger of one of the three tables before anything reads the tuple.
    unsafe {
        let tables = [c"step_vars", c"workflow_vars", c"global_vars"];
        let data = trigger_data(fcinfo, "scoped_changed", &tables, Fires::AfterRow);
        let desc = (*data.tg_relation).rd_att;
        let tuple = if data.tg_event & pg_sys::TRIGGER_EVENT_OPMASK == pg_sys::TRIGGER_EVENT_UPDATE
        {
            data.tg_newtuple
        } else {
            data.tg_trigtuple
        };
        let table = CStr::from_ptr((*(*data.tg_relation).rd_rel).relname.data.as_ptr());
        let text = |col| column(tuple, desc, col).map(|d| datum::text(d));
        let (Some(name), Some(value)) = (text(c"var_name"), column(tuple, desc, c"var_value"))
        else {
            return pg_sys::Datum::from(0usize);
        };
        let execution_id = column(tuple, desc, c"execution_id").map(|d| d.value() as i64);
        let playbook = text(c"playbook");
        declarations::check_written(
            &table.to_string_lossy(),
            execution_id,
            playbook.as_deref(),
            &name,
            value,
        );
    }
    pg_sys::Datum::from(0usize)
}

crate::backend::triggers::function_info_v1!(pg_finfo_scoped_changed_wrapper);

/// `AFTER … ON noetl.declarations FOR EACH STATEMENT`: every session reads the declarations
/// again once this transaction commits (this one at its next command).
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn declarations_changed_wrapper(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: PostgreSQL passes the call's own fcinfo; trigger_data checks it.
    unsafe {
        let data = trigger_data(
            fcinfo,
            "declarations_changed",
            &[c"declarations"],
            Fires::AfterStatement,
        );
        pg_sys::CacheInvalidateRelcache(data.tg_relation);
    }
    pg_sys::Datum::from(0usize)
}

crate::backend::triggers::function_info_v1!(pg_finfo_declarations_changed_wrapper);
