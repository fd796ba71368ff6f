//! Opt-in change capture: history (`noetl_vars.track_history`) and change events
//! (`noetl_vars.notify`).
//!
//! One trigger function sees every write and delete of `noetl.transient`, through the
//! extension's functions or plain SQL alike (tracked reads, which only move `access_count`, are
//! filtered out by the triggers' `WHEN` clauses, as is everything while both settings are off).
//! History rows are inserted in the same transaction, so a rolled-back step leaves none.
//! Changed names are collected per transaction and sent as one `NOTIFY noetl_vars` per execution
//! just before commit; changes of an aborted subtransaction are dropped, a rolled-back
//! transaction sends nothing.

use std::cell::RefCell;
use std::collections::BTreeMap;

use noetl_vars_core::output::OutValue;
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::guc;
use crate::jsonb::{self, PgJsonb};
use crate::queries;
use crate::spi::{execute, Connection};

/// The channel of change events.
pub const CHANNEL: &str = "noetl_vars";

/// PostgreSQL's limit on a NOTIFY payload is 8000 bytes; stay below it.
const MAX_PAYLOAD: usize = 7900;

struct Change {
    subxact: pg_sys::SubTransactionId,
    execution_id: i64,
    name: String,
}

thread_local! {
    static PENDING: RefCell<Vec<Change>> = const { RefCell::new(Vec::new()) };
}

/// Reads column `name` of a tuple of `noetl.transient` (NULL as `None`).
unsafe fn column(
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    name: &std::ffi::CStr,
) -> Option<pg_sys::Datum> {
    unsafe {
        let attnum = pg_sys::SPI_fnumber(desc, name.as_ptr());
        if attnum <= 0 {
            return None;
        }
        let mut is_null = false;
        let datum = pg_sys::SPI_getbinval(tuple, desc, attnum, &mut is_null);
        (!is_null).then_some(datum)
    }
}

/// Whether history or change events are on: the `WHEN` of the change triggers, so that nothing
/// fires while both are off. Calling it also loads the library, so settings made before it was
/// loaded (`ALTER DATABASE … SET noetl_vars.notify = on`) are read correctly.
#[pg_extern(stable, parallel_safe)]
fn capture_changes() -> bool {
    guc::track_history() || guc::notify()
}

/// `AFTER INSERT OR UPDATE OR DELETE ON noetl.transient FOR EACH ROW`.
#[pg_trigger]
fn transient_changed<'a>(
    trigger: &'a pgrx::PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgHeapTupleError> {
    let data = trigger.trigger_data();
    let event = data.tg_event & pg_sys::TRIGGER_EVENT_OPMASK;
    let operation = match event {
        pg_sys::TRIGGER_EVENT_INSERT => "insert",
        pg_sys::TRIGGER_EVENT_UPDATE => "update",
        pg_sys::TRIGGER_EVENT_DELETE => "delete",
        _ => return Ok(None),
    };
    unsafe {
        let desc = (*data.tg_relation).rd_att;
        let (old, new) = match event {
            pg_sys::TRIGGER_EVENT_INSERT => (None, Some(data.tg_trigtuple)),
            pg_sys::TRIGGER_EVENT_UPDATE => (Some(data.tg_trigtuple), Some(data.tg_newtuple)),
            _ => (Some(data.tg_trigtuple), None),
        };
        let current = new.or(old).unwrap_or(std::ptr::null_mut());
        let Some(execution_id) = column(current, desc, c"execution_id").map(|d| d.value() as i64)
        else {
            return Ok(None);
        };
        let Some(name) = column(current, desc, c"var_name").map(jsonb::text) else {
            return Ok(None);
        };
        if guc::track_history() {
            let value = |t: Option<pg_sys::HeapTuple>| {
                t.and_then(|t| column(t, desc, c"var_value"))
                    .map(|d| (PgJsonb::copy_of(d).datum(), false))
                    .unwrap_or((pg_sys::Datum::from(0usize), true))
            };
            let text_arg = |col: &std::ffi::CStr| match column(current, desc, col) {
                Some(d) => (d, false),
                None => (pg_sys::Datum::from(0usize), true),
            };
            let _conn = Connection::open();
            execute(
                &queries::HISTORY_INSERT,
                &[
                    (pg_sys::Datum::from(execution_id), false),
                    text_arg(c"var_name"),
                    (text_datum(operation), false),
                    value(old),
                    value(new),
                    text_arg(c"var_type"),
                    text_arg(c"source_step"),
                ],
                false,
            );
        }
        if guc::notify() {
            let subxact = pg_sys::GetCurrentSubTransactionId();
            PENDING.with(|p| {
                p.borrow_mut().push(Change {
                    subxact,
                    execution_id,
                    name,
                })
            });
        }
    }
    Ok(None)
}

fn text_datum(s: &str) -> pg_sys::Datum {
    s.into_datum().unwrap_or(pg_sys::Datum::from(0usize))
}

/// The payload for one execution: `{"execution_id": 1, "names": [...], "count": 2}`, names
/// sorted and unique, cut (with `"truncated": true`) to fit PostgreSQL's payload limit.
fn payload(execution_id: i64, names: &[&str]) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut truncated = false;
    let render = |kept: &[&str], truncated: bool| {
        let mut fields = vec![
            ("execution_id".to_string(), OutValue::Int(execution_id)),
            (
                "names".to_string(),
                OutValue::Array(
                    kept.iter()
                        .map(|n| OutValue::String(n.to_string()))
                        .collect(),
                ),
            ),
            ("count".to_string(), OutValue::Int(names.len() as i64)),
        ];
        if truncated {
            fields.push(("truncated".to_string(), OutValue::Bool(true)));
        }
        OutValue::Object(fields).to_json()
    };
    for name in names {
        kept.push(name);
        if render(&kept, true).len() > MAX_PAYLOAD {
            kept.pop();
            truncated = true;
            break;
        }
    }
    render(&kept, truncated)
}

/// Sends what the committing transaction changed.
fn send_pending() {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if pending.is_empty() {
        return;
    }
    let mut by_execution: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for change in &pending {
        by_execution
            .entry(change.execution_id)
            .or_default()
            .push(change.name.as_str());
    }
    for (execution_id, mut names) in by_execution {
        names.sort_unstable();
        names.dedup();
        let body = payload(execution_id, &names);
        unsafe {
            pgrx::direct_function_call_as_datum(
                pg_sys::pg_notify,
                &[CHANNEL.into_datum(), body.as_str().into_datum()],
            );
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent as E;
    match event {
        E::XACT_EVENT_PRE_COMMIT => send_pending(),
        // NOTIFY cannot be prepared; a prepared transaction's changes are not announced.
        E::XACT_EVENT_PRE_PREPARE | E::XACT_EVENT_COMMIT | E::XACT_EVENT_ABORT => {
            PENDING.with(|p| p.borrow_mut().clear())
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        // Everything recorded since this subtransaction started belongs to it or to its
        // children (subtransaction ids only grow), and is rolled back with it.
        PENDING.with(|p| p.borrow_mut().retain(|c| c.subxact < my_subid));
    }
}

/// Registers the transaction callbacks; called once from `_PG_init`.
pub fn init() {
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::payload;

    #[test]
    fn payload_names_the_execution_and_its_variables() {
        assert_eq!(
            payload(7, &["a", "b"]),
            r#"{"execution_id": 7, "names": ["a", "b"], "count": 2}"#
        );
    }

    #[test]
    fn payload_is_cut_to_fit_notify() {
        let long: Vec<String> = (0..2000).map(|i| format!("variable_{i:05}")).collect();
        let names: Vec<&str> = long.iter().map(String::as_str).collect();
        let p = payload(7, &names);
        assert!(p.len() <= super::MAX_PAYLOAD, "{}", p.len());
        assert!(
            p.contains(r#""count": 2000"#) && p.ends_with(r#""truncated": true}"#),
            "{p}"
        );
    }
}
