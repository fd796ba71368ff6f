//! Change events: the names a transaction changed, announced with one `NOTIFY noetl_vars` per
//! execution just before it commits (`noetl_vars.notify`). The trigger of [`crate::capture::changes`]
//! queues them; changes of an aborted subtransaction are dropped, and a rolled-back
//! transaction announces nothing. Payloads carry the execution and a count, and the names only
//! with the superuser setting `noetl_vars.notify_names` (names can be secrets to listeners).

use std::cell::RefCell;
use std::collections::BTreeMap;

use noetl_vars_core::output::OutValue;
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::backend::guc;

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

/// Queues a change of `(execution_id, name)` in the current subtransaction.
pub fn queue(execution_id: i64, name: &str) {
    // SAFETY: no preconditions; inside a transaction.
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    PENDING.with(|p| {
        p.borrow_mut().push(Change {
            subxact,
            execution_id,
            name: name.to_string(),
        })
    });
}

/// Forgets every queued change (the transaction ended or is being prepared).
pub fn clear() {
    PENDING.with(|p| p.borrow_mut().clear());
}

/// Forgets the changes of subtransaction `subid` and its children (subtransaction ids only
/// grow), which it rolled back.
pub fn forget_since(subid: pg_sys::SubTransactionId) {
    PENDING.with(|p| p.borrow_mut().retain(|c| c.subxact < subid));
}

/// The payload for one execution: `{"execution_id": 1, "count": 2}`, and with
/// `noetl_vars.notify_names` the sorted names too (`"names": [...]`), cut (with
/// `"truncated": true`) to fit PostgreSQL's payload limit.
fn payload(execution_id: i64, names: &[&str], with_names: bool) -> String {
    let render = |kept: Option<&[&str]>, truncated: bool| {
        let mut fields = vec![("execution_id".to_string(), OutValue::Int(execution_id))];
        if let Some(kept) = kept {
            let listed = kept
                .iter()
                .map(|n| OutValue::String(n.to_string()))
                .collect();
            fields.push(("names".to_string(), OutValue::Array(listed)));
        }
        fields.push(("count".to_string(), OutValue::Int(names.len() as i64)));
        if truncated {
            fields.push(("truncated".to_string(), OutValue::Bool(true)));
        }
        OutValue::Object(fields).to_json()
    };
    if !with_names {
        return render(None, false);
    }
    let full = render(Some(names), false);
    if full.len() <= MAX_PAYLOAD {
        return full;
    }
    // The longest prefix of the names that fits, found by bisection.
    let (mut fits, mut too_many) = (0, names.len());
    while too_many - fits > 1 {
        let mid = (fits + too_many) / 2;
        if render(Some(&names[..mid]), true).len() <= MAX_PAYLOAD {
            fits = mid;
        } else {
            too_many = mid;
        }
    }
    render(Some(&names[..fits]), true)
}

/// Announces what the committing transaction changed.
pub fn send_pending() {
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
    let with_names = guc::notify_names();
    for (execution_id, mut names) in by_execution {
        names.sort_unstable();
        names.dedup();
        let body = payload(execution_id, &names, with_names);
        // SAFETY: pg_notify takes two text arguments, both given.
        unsafe {
            pgrx::direct_function_call_as_datum(
                pg_sys::pg_notify,
                &[CHANNEL.into_datum(), body.as_str().into_datum()],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::payload;

    #[test]
    fn payload_names_only_the_execution_and_the_count_by_default() {
        assert_eq!(
            payload(7, &["a", "b"], false),
            r#"{"execution_id": 7, "count": 2}"#
        );
        assert_eq!(
            payload(7, &["a", "b"], true),
            r#"{"execution_id": 7, "names": ["a", "b"], "count": 2}"#
        );
    }

    #[test]
    fn payload_is_cut_to_fit_notify() {
        let long: Vec<String> = (0..2000).map(|i| format!("variable_{i:05}")).collect();
        let names: Vec<&str> = long.iter().map(String::as_str).collect();
        let p = payload(7, &names, true);
        assert!(p.len() <= super::MAX_PAYLOAD, "{}", p.len());
        assert!(
            p.contains(r#""count": 2000"#) && p.ends_with(r#""truncated": true}"#),
            "{p}"
        );
    }
}
