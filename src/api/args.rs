//! Checks of the arguments every SQL function shares, and the conditions a call runs under.

use noetl_vars_core::doc::DocRef;
use noetl_vars_core::output::OutValue;
use noetl_vars_core::ttl::Ttl;
use noetl_vars_core::validate::{self, quote};
use noetl_vars_core::Error;
use pgrx::datum::Interval;
use pgrx::pg_sys;

use crate::backend::errors::{OrRaise, Raise};
use crate::backend::guc;
use crate::backend::locks::{Locks, Request};
use crate::storage::jsonb::{self, PgJsonb};
use crate::storage::{declarations, value_checks};

/// The execution id argument, which every function requires (SQL NULL is 22004).
pub fn execution_id(execution_id: Option<i64>) -> i64 {
    execution_id
        .ok_or_else(|| Error::null_argument("execution_id"))
        .or_raise()
}

/// Locks `names` for writing (see [`crate::backend::locks`]).
pub fn lock_names<'a>(execution_id: i64, names: impl IntoIterator<Item = &'a str>) -> Locks {
    Locks::acquire(execution_id, &Request::write(names)).or_raise()
}

/// Whether this transaction may write: not on a hot standby, not in a read-only
/// transaction. Where it may not, reads are not counted (NoETL reads replicas).
pub fn can_write() -> bool {
    // SAFETY: a backend global and a function without preconditions.
    unsafe { !pg_sys::XactReadOnly && !pg_sys::RecoveryInProgress() }
}

/// Checks an optional `source_step` like a step name.
pub fn checked_source_step(source_step: Option<&str>) -> Option<&str> {
    if let Some(step) = source_step {
        validate::check_name("source_step", step).or_raise();
    }
    source_step
}

/// The optional `ttl interval` argument of every write path, checked (22023 when it is not a
/// positive lifetime of at most 100 years).
pub fn ttl(ttl: Option<Interval>) -> Option<Ttl> {
    ttl.map(|t| Ttl::new(t.months(), t.days(), t.micros(), "ttl").or_raise())
}

/// The names of the members of a JSON object about to be stored as variables, each checked
/// as a name, and each value against `noetl_vars.max_value_bytes` and the depth limit.
pub fn checked_members(object: &PgJsonb, doc: &DocRef) -> Vec<String> {
    let names = doc.keys();
    // A member stored alone is smaller than the object holding it, and one level less deep, so
    // when the whole object is within both limits no member needs measuring.
    let measure = object.size() > guc::max_value_bytes()
        || jsonb::stored_depth_beyond(object, jsonb::MAX_STORED_DEPTH + 1).is_some();
    for (i, name) in names.iter().enumerate() {
        if i % 1024 == 1023 {
            pgrx::check_for_interrupts!();
        }
        validate::check_name("variable name", name)
            .map_err(|e| Error::new(e.kind, format!("{} ({})", e.message, quote(name))))
            .or_raise();
        if let Some(value) = doc.get(name).filter(|_| measure) {
            value_checks::check_output_value(&OutValue::Doc(value), || {
                format!("the value of {}", quote(name))
            })
            .or_raise();
        }
    }
    names
}

/// Refuses `value`, about to be stored as variable `name` of `execution_id` (by a call given
/// `playbook`), when it does not match the variable's declared schema (23514).
pub fn check_declared(execution_id: i64, playbook: Option<&str>, name: &str, value: &OutValue) {
    declarations::check(Some(execution_id), playbook, name, value, || {
        format!("variable {} of execution {execution_id}", quote(name))
    })
    .or_raise();
}

/// [`check_declared`] for each member `names` of `object`, about to be stored as variables.
pub fn check_declared_members(execution_id: i64, object: &DocRef, names: &[String]) {
    if !declarations::may_apply() {
        return;
    }
    for name in names {
        if let Some(value) = object.get(name) {
            check_declared(execution_id, None, name, &OutValue::Doc(value));
        }
    }
}

/// The optional `event_id` argument: not empty, at most 1024 bytes (22023 otherwise).
pub fn event_id(event_id: Option<&str>) -> Option<&str> {
    if let Some(id) = event_id {
        if id.is_empty() || id.len() > 1024 {
            Error::invalid(format!(
                "event_id must be 1 to 1024 bytes long, not {}",
                id.len()
            ))
            .with_hint("pass the id NoETL gives the event (e.g. its event_id), the same for every delivery")
            .raise();
        }
    }
    event_id
}
