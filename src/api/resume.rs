//! `resume_execution` (docs/reference.md, "Re-running"): an execution's predefined variables
//! written again when it resumes, with every runtime value of the same name that differs
//! reported, and kept or overwritten as the caller chooses.

use std::sync::Arc;

use noetl_vars_core::block::describe;
use noetl_vars_core::doc::{DocRef, View};
use noetl_vars_core::output::OutValue;
use noetl_vars_core::redact::REDACTED;
use noetl_vars_core::validate::{quote, VarType};
use noetl_vars_core::Error;
use pgrx::prelude::*;

use super::args;
use crate::backend::errors::{OrRaise, Raise};
use crate::storage::jsonb::{self, Lifetime, PgJsonb};
use crate::storage::queries;
use crate::storage::scrub;
use crate::storage::sealed::{self, Row};
use crate::storage::spi::{execute, Connection};
use crate::storage::table::{self, int8_arg, Expiry, Types};

/// Which value wins where a predefined variable meets a different runtime value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    Predefined,
    Runtime,
}

impl Keep {
    fn parse(keep: Option<&str>) -> Keep {
        match keep {
            Some("predefined") => Keep::Predefined,
            Some("runtime") => Keep::Runtime,
            None => Error::null_argument("keep").raise(),
            Some(other) => Error::invalid(format!(
                "keep must be 'predefined' or 'runtime', not {}",
                quote(other)
            ))
            .with_hint("'predefined' overwrites runtime values that differ, 'runtime' leaves them")
            .raise(),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Keep::Predefined => "predefined",
            Keep::Runtime => "runtime",
        }
    }
}

/// Writes an execution's predefined variables again (`user_defined`, `source_step` `resume`)
/// and reports each runtime value of the same name that differs; `keep` says which wins. All
/// or nothing. Returns `{"written": [...], "conflicts": {...}, "keep": ...}`.
#[pg_extern(volatile, parallel_unsafe)]
fn resume_execution(
    execution_id: Option<i64>,
    predefined: Option<PgJsonb>,
    keep: default!(Option<&str>, "'predefined'"),
) -> PgJsonb {
    let execution_id = args::execution_id(execution_id);
    let predefined = predefined
        .ok_or_else(|| Error::null_argument("predefined"))
        .or_raise();
    let keep = Keep::parse(keep);
    let conn = Connection::open();
    let life = Lifetime::new();
    let doc = predefined.doc(&life);
    if !matches!(doc.view(), View::Object(_)) {
        Error::invalid(format!(
            "predefined must be a JSON object of the execution's predefined variables, not {}",
            describe(&doc.view())
        ))
        .with_hint("pass {\"name\": value, …}, e.g. the playbook's workload variables")
        .raise();
    }
    let names = args::checked_members(&predefined, &doc);
    let _locks = args::lock_names(execution_id, names.iter().map(String::as_str));
    let conflicts = opened(
        execution_id,
        resume_conflicts(execution_id, predefined, &life),
    );
    let conflicting: Vec<String> = conflicts.iter().map(|(n, _)| n.clone()).collect();
    let written: Vec<String> = match keep {
        Keep::Predefined => names,
        Keep::Runtime => names
            .into_iter()
            .filter(|n| !conflicting.contains(n))
            .collect(),
    };
    let mut scrubbed = Vec::new();
    if !written.is_empty() {
        args::check_declared_members(execution_id, &doc, &written);
        let (values, names) = scrub::object(written_values(&doc, &written), &life);
        scrubbed = names;
        table::upsert_object(
            execution_id,
            values,
            Types::All(VarType::UserDefined.as_str()),
            Some("resume"),
            &Expiry::default(),
            None,
        );
    }
    if keep == Keep::Predefined && !conflicting.is_empty() {
        warn_overwritten(execution_id, &conflicting);
    }
    conn.in_caller(|| jsonb::build(&body(written, conflicts, keep, scrubbed)))
}

/// The members of `predefined` named in `written`, as one object to store.
fn written_values(predefined: &DocRef, written: &[String]) -> PgJsonb {
    let members = written
        .iter()
        .filter_map(|n| predefined.get(n).map(|v| (n.clone(), OutValue::Doc(v))))
        .collect();
    jsonb::build(&OutValue::Object(members))
}

/// The function's result: what it wrote (sorted), every conflict, the rule applied.
fn body(
    mut written: Vec<String>,
    conflicts: Vec<(String, OutValue)>,
    keep: Keep,
    scrubbed: Vec<String>,
) -> OutValue {
    written.sort();
    let mut fields = vec![
        (
            "written".to_string(),
            OutValue::Array(written.into_iter().map(OutValue::String).collect()),
        ),
        ("conflicts".to_string(), OutValue::Object(conflicts)),
        (
            "keep".to_string(),
            OutValue::String(keep.as_str().to_string()),
        ),
    ];
    // Under scrub_secrets: the variables stored as "[REDACTED]" where they held credentials.
    if !scrubbed.is_empty() {
        let names = scrubbed.into_iter().map(OutValue::String).collect();
        fields.push(("scrubbed".to_string(), OutValue::Array(names)));
    }
    OutValue::Object(fields)
}

/// A WARNING naming the runtime values a resume replaced (at most 20 names shown).
fn warn_overwritten(execution_id: i64, names: &[String]) {
    const SHOWN: usize = 20;
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    let mut shown: Vec<String> = sorted.iter().take(SHOWN).map(|n| quote(n)).collect();
    if sorted.len() > SHOWN {
        shown.push(format!("and {} more", sorted.len() - SHOWN));
    }
    pgrx::warning!(
        "resume_execution overwrote {} runtime value{} of execution {execution_id} with predefined ones: {}",
        sorted.len(),
        if sorted.len() == 1 { "" } else { "s" },
        shown.join(", ")
    );
}

/// The variables of `predefined` the execution holds with another value, their rows locked:
/// `{name: {"runtime": …, "predefined": …}}` (see [`queries::RESUME_CONFLICTS`]).
fn resume_conflicts(execution_id: i64, predefined: PgJsonb, life: &Arc<Lifetime>) -> DocRef {
    crate::storage::vars_store::hold_placement(execution_id);
    let rows = execute(
        &queries::RESUME_CONFLICTS,
        &[int8_arg(execution_id), (predefined.datum(), false)],
        false,
    );
    let Some(datum) = rows.get(0, 1) else {
        pgrx::error!("noetl_vars: internal query resume_conflicts returned no row");
    };
    // SAFETY: the statement's only column is a non-null jsonb (COALESCE with '{}').
    let conflicts = unsafe { <PgJsonb as pgrx::FromDatum>::from_datum(datum, false) };
    match conflicts {
        Some(c) => c.doc(life),
        None => pgrx::error!("noetl_vars: internal query resume_conflicts returned NULL"),
    }
}

/// The conflicts, those of encrypted runtime values decided on their plaintext (SQL compared
/// ciphertext): one equal to the predefined value is no conflict, one that differs is shown
/// as "[REDACTED]" (the function's result is a report, like `vars_get`).
fn opened(execution_id: i64, conflicts: DocRef) -> Vec<(String, OutValue)> {
    conflicts
        .keys()
        .into_iter()
        .filter_map(|name| {
            let conflict = conflicts.get(&name)?;
            let (runtime, predefined) = (conflict.get("runtime")?, conflict.get("predefined")?);
            let stored = jsonb::build(&OutValue::Doc(runtime));
            if stored.sealed_text().is_none() {
                return Some((name, OutValue::Doc(conflict)));
            }
            let plain = sealed::open(&Row::Transient(execution_id), &name, stored);
            let wanted = jsonb::build(&OutValue::Doc(predefined.clone()));
            // SAFETY: jsonb_eq takes two jsonb datums and returns a bool.
            let equal: Option<bool> = unsafe {
                pgrx::direct_function_call(
                    pg_sys::jsonb_eq,
                    &[Some(plain.datum()), Some(wanted.datum())],
                )
            };
            if equal == Some(true) {
                return None;
            }
            let shown = vec![
                ("runtime".to_string(), OutValue::String(REDACTED.into())),
                ("predefined".to_string(), OutValue::Doc(predefined)),
            ];
            Some((name, OutValue::Object(shown)))
        })
        .collect()
}
