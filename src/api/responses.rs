//! The response bodies of the server's `/api/vars` endpoints (docs/reference.md, Response bodies), produced in-database.

use noetl_vars_core::doc::View;
use noetl_vars_core::output::OutValue;
use noetl_vars_core::redact::{redact, REDACTED};
use noetl_vars_core::sealed::MARK;
use noetl_vars_core::shape::{self, VarRow};
use noetl_vars_core::validate;
use pgrx::prelude::*;

use super::args;
use crate::backend::errors::OrRaise;
use crate::backend::locks::Locks;
use crate::storage::declarations;
use crate::storage::events;
use crate::storage::jsonb::{self, Lifetime, PgJsonb};
use crate::storage::spi::Connection;
use crate::{backend::guc, storage::table};

/// A stored value as the API shows it: an encrypted one, or one of a variable declared
/// sensitive, wholly redacted (never decrypted for display); credentials redacted unless the
/// operator turned it off.
fn as_shown(execution_id: i64, row: &VarRow) -> OutValue {
    let sealed = matches!(row.value.view(), View::Object(1)) && row.value.get(MARK).is_some();
    if sealed || declarations::is_sensitive(execution_id, &row.name) {
        OutValue::String(REDACTED.into())
    } else if guc::redact_secrets() {
        redact(&row.name, &row.value)
    } else {
        OutValue::Doc(row.value.clone())
    }
}

/// `GET /api/vars/{execution_id}`: every variable with its metadata, untracked.
#[pg_extern(stable, parallel_restricted)]
fn vars_list(execution_id: Option<i64>) -> PgJsonb {
    let execution_id = args::execution_id(execution_id);
    let conn = Connection::open();
    let life = Lifetime::new();
    let rows = table::read_all(execution_id, &life, false);
    let body = shape::vars_list(execution_id, &rows, |r| as_shown(execution_id, r));
    conn.in_caller(|| jsonb::build(&body))
}

/// `GET /api/vars/{execution_id}/{var_name}`: a tracked read with metadata; SQL NULL when the
/// variable does not exist (the server answers 404). Uncounted where nothing can be written
/// (a hot standby, a read-only transaction).
#[pg_extern(volatile, parallel_unsafe)]
fn vars_get(execution_id: Option<i64>, var_name: Option<&str>) -> Option<PgJsonb> {
    let execution_id = args::execution_id(execution_id);
    let name = validate::var_name(var_name).or_raise();
    let conn = Connection::open();
    let life = Lifetime::new();
    let row = if args::can_write() {
        let _locks = args::lock_names(execution_id, [name]);
        table::tracked_read(execution_id, name, &life)?
    } else {
        table::read_row(execution_id, name, &life)?
    };
    let body = shape::vars_get(execution_id, &row, as_shown(execution_id, &row));
    Some(conn.in_caller(|| jsonb::build(&body)))
}

/// `DELETE /api/vars/{execution_id}/{var_name}`.
#[pg_extern(volatile, parallel_unsafe)]
fn vars_delete(execution_id: Option<i64>, var_name: Option<&str>) -> PgJsonb {
    let execution_id = args::execution_id(execution_id);
    let name = validate::var_name(var_name).or_raise();
    let conn = Connection::open();
    let _locks = args::lock_names(execution_id, [name]);
    let deleted = table::delete_one(execution_id, name);
    conn.in_caller(|| jsonb::build(&shape::vars_delete(execution_id, name, deleted)))
}

/// `DELETE /api/vars/{execution_id}`.
#[pg_extern(volatile, parallel_unsafe)]
fn vars_cleanup(execution_id: Option<i64>) -> PgJsonb {
    let execution_id = args::execution_id(execution_id);
    let conn = Connection::open();
    let _locks = Locks::whole(execution_id).or_raise();
    let _cleanup = crate::capture::watch::Cleanup::begin();
    let deleted = table::delete_all(execution_id);
    events::forget(execution_id);
    conn.in_caller(|| jsonb::build(&shape::vars_cleanup(execution_id, deleted as i64)))
}
