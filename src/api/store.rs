//! The store functions (docs/reference.md, Store): parity with the NoETL server's `TransientVars`.

use std::sync::Arc;

use noetl_vars_core::block::describe;
use noetl_vars_core::doc::View;
use noetl_vars_core::output::OutValue;
use noetl_vars_core::validate::{self, quote, VarType};
use noetl_vars_core::{shape, Error};
use pgrx::datum::Interval;
use pgrx::prelude::*;

use super::args;
use crate::backend::errors::{OrRaise, Raise};
use crate::backend::locks::Locks;
use crate::storage::events;
use crate::storage::jsonb::{self, Lifetime, PgJsonb};
use crate::storage::scrub;
use crate::storage::sealed::{self, Row};
use crate::storage::spi::Connection;
use crate::storage::table::{self, Expiry, Types, Write};
use crate::storage::value_checks;

/// Creates or overwrites one variable.
#[pg_extern(name = "set_var", volatile, parallel_unsafe)]
pub(super) fn set_var_v6(
    execution_id: Option<i64>,
    var_name: Option<&str>,
    var_value: Option<PgJsonb>,
    var_type: default!(Option<&str>, "'user_defined'"),
    source_step: default!(Option<&str>, "NULL"),
    ttl: default!(Option<Interval>, "NULL"),
) {
    let execution_id = args::execution_id(execution_id);
    let ttl = args::ttl(ttl);
    let name = validate::var_name(var_name).or_raise();
    let value = var_value
        .ok_or_else(|| {
            Error::null_argument("var_value").with_hint(
                "a JSON null is stored as 'null'::jsonb; to remove a variable use noetl.delete_var",
            )
        })
        .or_raise();
    let var_type = VarType::parse(var_type).or_raise();
    let source_step = args::checked_source_step(source_step);
    value_checks::check_stored_value(&value, || format!("the value of {}", quote(name))).or_raise();
    let _conn = Connection::open();
    let life = Lifetime::new();
    args::check_declared(execution_id, None, name, &OutValue::Doc(value.doc(&life)));
    let (value, scrubbed) = scrubbed_value(name, value, &life);
    let _locks = args::lock_names(execution_id, [name]);
    table::upsert_one(
        execution_id,
        &Write {
            name,
            var_type: var_type.as_str(),
            value,
        },
        source_step,
        ttl,
    );
    scrub::notice(&scrubbed);
}

/// `value` as `set_var` stores it ([`scrub::value`]), and the name when it was scrubbed.
fn scrubbed_value(name: &str, value: PgJsonb, life: &Arc<Lifetime>) -> (PgJsonb, Vec<String>) {
    let (stored, changed) = scrub::value(name, OutValue::Doc(value.doc(life)));
    if changed {
        (jsonb::build(&stored), vec![name.to_string()])
    } else {
        (value, Vec::new())
    }
}

/// A tracked read of one variable's value: SQL NULL when it does not exist. Where nothing can
/// be written (a hot standby, a read-only transaction) the value is returned uncounted.
#[pg_extern(volatile, parallel_unsafe)]
fn get_var(execution_id: Option<i64>, var_name: Option<&str>) -> Option<PgJsonb> {
    let execution_id = args::execution_id(execution_id);
    let name = validate::var_name(var_name).or_raise();
    let conn = Connection::open();
    let tracked = args::can_write();
    // A tracked read row-locks the variable: it takes the writers' lock first, in their order.
    let _locks = tracked.then(|| args::lock_names(execution_id, [name]));
    let datum = table::value_datum(execution_id, name, tracked)?;
    Some(conn.in_caller(|| {
        // SAFETY: var_value is a non-null jsonb column.
        let stored = unsafe { PgJsonb::copy_of(datum) };
        sealed::open(&Row::Transient(execution_id), name, stored)
    }))
}

/// Every variable of an execution as `{name: value}`, untracked.
#[pg_extern(stable, parallel_restricted)]
fn get_all_vars(execution_id: Option<i64>) -> PgJsonb {
    let execution_id = args::execution_id(execution_id);
    let conn = Connection::open();
    let life = Lifetime::new();
    let rows = table::read_all(execution_id, &life, true);
    let body = OutValue::Object(
        rows.into_iter()
            .map(|r| (r.name, OutValue::Doc(r.value)))
            .collect(),
    );
    conn.in_caller(|| jsonb::build(&body))
}

/// Upserts every member of `variables` in one statement: all or nothing.
#[pg_extern(name = "set_vars", volatile, parallel_unsafe)]
pub(super) fn set_vars_v6(
    execution_id: Option<i64>,
    variables: Option<PgJsonb>,
    var_type: default!(Option<&str>, "'user_defined'"),
    source_step: default!(Option<&str>, "NULL"),
    ttl: default!(Option<Interval>, "NULL"),
) -> PgJsonb {
    let execution_id = args::execution_id(execution_id);
    let ttl = args::ttl(ttl);
    let variables = variables
        .ok_or_else(|| Error::null_argument("variables"))
        .or_raise();
    let var_type = VarType::parse(var_type).or_raise();
    let source_step = args::checked_source_step(source_step);
    let conn = Connection::open();
    let life = Lifetime::new();
    let doc = variables.doc(&life);
    let hint = "pass a JSON object of name: value pairs, e.g. '{\"attempt\": 1}'";
    match doc.view() {
        View::Object(0) => Error::invalid("variables must not be empty")
            .with_hint(hint)
            .raise(),
        View::Object(_) => {}
        other => Error::invalid(format!(
            "variables must be a JSON object, not {}",
            describe(&other)
        ))
        .with_hint(hint)
        .raise(),
    }
    let names = args::checked_members(&variables, &doc);
    args::check_declared_members(execution_id, &doc, &names);
    let (variables, scrubbed) = scrub::object(variables, &life);
    let _locks = args::lock_names(execution_id, names.iter().map(String::as_str));
    table::upsert_object(
        execution_id,
        variables,
        Types::All(var_type.as_str()),
        source_step,
        &Expiry {
            all: ttl,
            each: None,
        },
        None,
    );
    let body = shape::set_vars(execution_id, &names, &scrubbed);
    conn.in_caller(|| jsonb::build(&body))
}

/// Deletes one variable; true when it existed.
#[pg_extern(volatile, parallel_unsafe)]
fn delete_var(execution_id: Option<i64>, var_name: Option<&str>) -> bool {
    let execution_id = args::execution_id(execution_id);
    let name = validate::var_name(var_name).or_raise();
    let _conn = Connection::open();
    let _locks = args::lock_names(execution_id, [name]);
    table::delete_one(execution_id, name)
}

/// Deletes every variable of an execution; how many there were.
#[pg_extern(volatile, parallel_unsafe)]
fn cleanup_execution(execution_id: Option<i64>) -> i32 {
    let execution_id = args::execution_id(execution_id);
    let _conn = Connection::open();
    let _locks = Locks::whole(execution_id).or_raise();
    let _cleanup = crate::capture::watch::Cleanup::begin();
    let deleted = table::delete_all(execution_id);
    events::forget(execution_id);
    i32::try_from(deleted).unwrap_or(i32::MAX)
}
