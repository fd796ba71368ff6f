//! Credentials scrubbed before they are stored (`noetl_vars.scrub_secrets`, a superuser
//! setting, off by default): every write path stores what the API bodies would show as
//! `"[REDACTED]"` as `"[REDACTED]"`, so that the secret never reaches the table, its history,
//! a dump or a backup. The rules are the bodies' ([`noetl_vars_core::redact`]).

use std::sync::Arc;

use noetl_vars_core::doc::{DocRef, View};
use noetl_vars_core::output::OutValue;
use noetl_vars_core::redact;
use noetl_vars_core::validate::quote;

use crate::backend::guc;
use crate::storage::jsonb::{self, Lifetime, PgJsonb};

/// Variable `name`'s `value` as it is to be stored, and whether anything was scrubbed.
pub(crate) fn value(name: &str, value: OutValue) -> (OutValue, bool) {
    if !guc::scrub_secrets() {
        return (value, false);
    }
    redact::scrub(name, value)
}

/// An object of variables as it is to be stored (itself when nothing is scrubbed), and the
/// names scrubbed, in the object's order.
pub(crate) fn object(object: PgJsonb, life: &Arc<Lifetime>) -> (PgJsonb, Vec<String>) {
    if !guc::scrub_secrets() {
        return (object, Vec::new());
    }
    let doc = object.doc(life);
    if !matches!(doc.view(), View::Object(_)) {
        return (object, Vec::new());
    }
    let mut scrubbed = Vec::new();
    let members: Vec<(String, OutValue)> = doc
        .keys()
        .into_iter()
        .filter_map(|name| {
            let member: DocRef = doc.get(&name)?;
            let (stored, changed) = redact::scrub(&name, OutValue::Doc(member));
            if changed {
                scrubbed.push(name.clone());
            }
            Some((name, stored))
        })
        .collect();
    if scrubbed.is_empty() {
        (object, scrubbed)
    } else {
        (jsonb::build(&OutValue::Object(members)), scrubbed)
    }
}

/// Says which variables were stored scrubbed, for a function whose result cannot.
pub(crate) fn notice(names: &[String]) {
    if names.is_empty() {
        return;
    }
    let shown: Vec<String> = names.iter().map(|n| quote(n)).collect();
    pgrx::notice!(
        "noetl_vars: stored {} as \"[REDACTED]\" where it held credentials (noetl_vars.scrub_secrets)",
        shown.join(", ")
    );
}
