//! The extension's trigger functions are written by hand (not through pgrx's trigger
//! wrapper) so that each refuses to run for any table but its own: several run with the
//! owner's rights, and attached to another table they could forge history or outbox rows.

use std::ffi::CStr;

use noetl_vars_core::{Error, ErrorKind};
use pgrx::pg_sys;

use crate::backend::errors::Raise;
use crate::backend::{catalog, citus};

/// When a trigger function may fire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fires {
    /// AFTER … FOR EACH ROW.
    AfterRow,
    /// AFTER … FOR EACH STATEMENT.
    AfterStatement,
}

/// The `TriggerData` of this call, when `function` was fired as `fires` for one of `tables`
/// (in schema `noetl`); otherwise an error (55000 for a direct call, 42501 for another
/// table or timing).
///
/// # Safety
/// `fcinfo` must be the call's own.
pub unsafe fn trigger_data(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    tables: &[&CStr],
    fires: Fires,
) -> &'static pg_sys::TriggerData {
    // SAFETY: the caller's; `context`, when it is a TriggerData node, lives for the call.
    unsafe {
        let context = fcinfo.as_ref().map_or(std::ptr::null_mut(), |f| f.context);
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_TriggerData {
            Error::new(
                ErrorKind::PrerequisiteState,
                format!("noetl.{function}() can only be called as a trigger"),
            )
            .raise();
        }
        let data = &*(context as *const pg_sys::TriggerData);
        let rel = (*data.tg_relation).rd_rel;
        let name = CStr::from_ptr((*rel).relname.data.as_ptr());
        let event = data.tg_event;
        let row = event & pg_sys::TRIGGER_EVENT_ROW != 0;
        let after = event & pg_sys::TRIGGER_EVENT_TIMINGMASK == pg_sys::TRIGGER_EVENT_AFTER;
        let timing = after && row == (fires == Fires::AfterRow);
        // With Citus, a shard of one of the tables (in the same schema, which only its owner
        // may create in: docs/security.md).
        let own = tables.contains(&name)
            || citus::loaded() && tables.iter().any(|t| citus::is_shard_name(name, t));
        if (*rel).relnamespace != catalog::noetl_namespace() || !own || !timing {
            let own: Vec<String> = tables
                .iter()
                .map(|t| format!("noetl.{}", t.to_string_lossy()))
                .collect();
            Error::new(
                ErrorKind::Privilege,
                format!(
                    "noetl.{function}() is the {} trigger of {} only; it was fired for \"{}\"",
                    if fires == Fires::AfterRow {
                        "AFTER ROW"
                    } else {
                        "AFTER STATEMENT"
                    },
                    own.join(", "),
                    name.to_string_lossy()
                ),
            )
            .with_hint("the extension's triggers cannot be attached to other tables")
            .raise();
        }
        data
    }
}

/// Declares the `pg_finfo_…` symbol PostgreSQL looks for beside a C function (its
/// PG_FUNCTION_INFO_V1).
macro_rules! function_info_v1 {
    ($finfo:ident) => {
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static pgrx::pg_sys::Pg_finfo_record {
            const V1_API: pgrx::pg_sys::Pg_finfo_record =
                pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1_API
        }
    };
}
pub(crate) use function_info_v1;
