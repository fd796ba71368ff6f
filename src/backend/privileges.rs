//! Table privileges checked before a lock is taken: a call that will fail with 42501 when it
//! writes must not first hold a lock that other sessions wait for (a role that may only read
//! the global scope could otherwise hold every writer of `global.*` up, for as long as its
//! transaction stays open).

use std::ffi::CStr;

use noetl_vars_core::{Error, ErrorKind};
use pgrx::pg_sys;

use crate::backend::catalog;
use crate::backend::errors::Raise;

/// What a call will do to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// `SELECT`.
    Read,
    /// `INSERT … ON CONFLICT DO UPDATE` (and the `SELECT` its conflict check needs).
    Upsert,
}

/// Raises 42501 unless the current user holds every table privilege `usage` of the table
/// `noetl.<table>` needs; `what` says what the call was about to do ("writing global.x").
pub(crate) fn require(table: &CStr, usage: Use, what: &str) {
    let wanted: &[(u64, &str)] = match usage {
        Use::Read => &[(pg_sys::ACL_SELECT as u64, "SELECT")],
        Use::Upsert => &[
            (pg_sys::ACL_INSERT as u64, "INSERT"),
            (pg_sys::ACL_UPDATE as u64, "UPDATE"),
        ],
    };
    let Some(relid) = catalog::noetl_relation(table) else {
        // The install is broken; the statement itself will say so.
        return;
    };
    // SAFETY: reading the current user's OID has no preconditions.
    let user = unsafe { pg_sys::GetUserId() };
    let table = table.to_string_lossy();
    for (mode, name) in wanted {
        // SAFETY: as above; `relid` names an existing relation.
        let granted = unsafe { pg_sys::pg_class_aclcheck(relid, user, *mode as pg_sys::AclMode) };
        if granted != pg_sys::AclResult::ACLCHECK_OK {
            Error::new(
                ErrorKind::Privilege,
                format!("permission denied for table noetl.{table}: {what} needs {name}"),
            )
            .with_hint(format!(
                "GRANT {} ON noetl.{table} to the role, or change the block",
                match usage {
                    Use::Read => "SELECT",
                    Use::Upsert => "INSERT, UPDATE",
                }
            ))
            .raise();
        }
    }
}
