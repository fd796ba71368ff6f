//! Sensitive variables encrypted at rest (docs/encryption.md): which values a write seals,
//! and opening what a read finds.
//!
//! Every write of the extension's functions goes through [`seal_members`] (or
//! [`seal_value`]) just before its statement: a variable declared `sensitive` (and, with
//! `noetl_vars.encrypt_secrets`, one the redaction rules call a credential) is stored as
//! `{"noetl_vars_sealed": "v1.<key id>.<data>"}` (core `sealed`), bound to its row. Every
//! read that hands a value to a caller or a template goes through [`open`]: a value of that
//! form is decrypted, anything else returned as it is. Plain SQL may not write a sensitive
//! variable in clear ([`crate::storage::declarations::check_written`]).

use noetl_vars_core::output::OutValue;
use noetl_vars_core::redact;
use noetl_vars_core::sealed::{associated_data, OpenError, Part};
use noetl_vars_core::validate::quote;
use noetl_vars_core::{Error, ErrorKind};

use crate::backend::errors::Raise;
use crate::backend::{guc, keys};
use crate::storage::declarations;
use crate::storage::jsonb::{Lifetime, PgJsonb};

/// The row a value is stored in, short of its name: what its ciphertext is bound to.
#[derive(Clone, Copy, Debug)]
pub enum Row<'a> {
    /// `noetl.transient`: an execution's variables.
    Transient(i64),
    /// `noetl.step_vars`: a step's (no iteration) or an iteration's.
    Step {
        execution_id: i64,
        step: &'a str,
        iteration: Option<i32>,
    },
    /// `noetl.workflow_vars`: a playbook's.
    Workflow(&'a str),
    /// `noetl.global_vars`.
    Global,
    /// `noetl.applied_events`: the recorded result of a call that wrote a sealed value (its
    /// "name" is not part of it).
    Event {
        execution_id: i64,
        event_id: &'a str,
    },
}

impl Row<'_> {
    fn associated_data(&self, name: &str) -> Vec<u8> {
        match *self {
            Row::Transient(id) => {
                associated_data(&[Part::Text("transient"), Part::Int(id), Part::Text(name)])
            }
            Row::Step {
                execution_id,
                step,
                iteration,
            } => associated_data(&[
                Part::Text("step_vars"),
                Part::Int(execution_id),
                Part::Text(step),
                iteration.map_or(Part::Null, |i| Part::Int(i.into())),
                Part::Text(name),
            ]),
            Row::Workflow(playbook) => associated_data(&[
                Part::Text("workflow_vars"),
                Part::Text(playbook),
                Part::Text(name),
            ]),
            Row::Global => associated_data(&[Part::Text("global_vars"), Part::Text(name)]),
            Row::Event {
                execution_id,
                event_id,
            } => associated_data(&[
                Part::Text("applied_events"),
                Part::Int(execution_id),
                Part::Text(event_id),
            ]),
        }
    }

    /// The variable, as error messages name it.
    fn describe(&self, name: &str) -> String {
        match *self {
            Row::Transient(id) => format!("variable {} of execution {id}", quote(name)),
            Row::Step {
                execution_id,
                step,
                iteration: None,
            } => format!(
                "step variable {} of execution {execution_id}, step {}",
                quote(name),
                quote(step)
            ),
            Row::Step {
                execution_id,
                step,
                iteration: Some(i),
            } => format!(
                "iteration variable {} of execution {execution_id}, step {}, iteration {i}",
                quote(name),
                quote(step)
            ),
            Row::Workflow(playbook) => format!(
                "workflow variable {} of playbook {}",
                quote(name),
                quote(playbook)
            ),
            Row::Global => format!("global variable {}", quote(name)),
            Row::Event {
                execution_id,
                event_id,
            } => format!(
                "the recorded result of event {} of execution {execution_id}",
                quote(event_id)
            ),
        }
    }
}

/// Whether a write (of a call given `playbook`) might seal anything: something is declared,
/// or credentials are encrypted. Asked before looking at the values at all.
fn may_seal() -> bool {
    declarations::may_apply() || guc::encrypt_secrets()
}

fn must_seal(execution_id: i64, playbook: Option<&str>, name: &str, value: &PgJsonb) -> bool {
    if declarations::applying(Some(execution_id), playbook, name).is_some_and(|d| d.sensitive) {
        return true;
    }
    guc::encrypt_secrets() && {
        let life = Lifetime::new();
        redact::is_credential(name, &OutValue::Doc(value.doc(&life)))
    }
}

/// The sealed text (`v1.…`) of `value`, stored as variable `name` of `row`.
fn seal(row: &Row<'_>, name: &str, value: &PgJsonb) -> String {
    seal_text(row, name, &value.json_text())
}

thread_local! {
    /// Values this session sealed: a call that sealed one records its event's result sealed.
    static SEALS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many values this session has sealed.
pub fn seals() -> u64 {
    SEALS.with(std::cell::Cell::get)
}

/// The result of a call (`event_id` of `execution_id`) to be recorded: sealed whole, for it
/// holds values the call sealed.
pub fn seal_result(execution_id: i64, event_id: &str, result: PgJsonb) -> PgJsonb {
    let row = Row::Event {
        execution_id,
        event_id,
    };
    PgJsonb::sealed(&seal(&row, "", &result))
}

/// The sealed text (`v1.…`, stored under `noetl_vars_sealed`) of the value whose JSON text is `text`.
fn seal_text(row: &Row<'_>, name: &str, text: &str) -> String {
    SEALS.with(|s| s.set(s.get() + 1));
    let ring = keys::ring();
    let sealed = ring
        .seal(&row.associated_data(name), text.as_bytes())
        .unwrap_or_else(|why| {
            Error::new(
                ErrorKind::PrerequisiteState,
                format!("{} could not be encrypted: {why}", row.describe(name)),
            )
            .raise()
        });
    sealed
}

/// `stored` (variable `name` of `row`) sealed under the active key: decrypted first when
/// sealed under another. For a rotation.
pub fn sealed_again(row: &Row<'_>, name: &str, stored: PgJsonb) -> PgJsonb {
    let text = match stored.sealed_text() {
        Some(sealed) => open_text(row, name, &sealed),
        None => stored.json_text(),
    };
    PgJsonb::sealed(&seal_text(row, name, &text))
}

/// `values` (an object `{name: value}` to be written to `row` by execution `execution_id`, in
/// a call given `playbook`) with the members that must be sealed, sealed.
pub fn seal_members(
    row: &Row<'_>,
    execution_id: i64,
    playbook: Option<&str>,
    values: PgJsonb,
) -> PgJsonb {
    if !may_seal() {
        return values;
    }
    // By name first: only the values of sensitive names are looked at, unless credentials
    // are encrypted too (a value's content decides).
    let sensitive = |name: &str| {
        declarations::applying(Some(execution_id), playbook, name).is_some_and(|d| d.sensitive)
    };
    let keys = values.keys();
    let sealed: Vec<(String, String)> = if guc::encrypt_secrets() {
        values
            .members()
            .into_iter()
            .filter(|(name, value)| must_seal(execution_id, playbook, name, value))
            .map(|(name, value)| {
                let text = seal(row, &name, &value);
                (name, text)
            })
            .collect()
    } else {
        keys.iter()
            .filter(|name| sensitive(name))
            .cloned()
            .filter_map(|name| {
                let value = values.member(&name)?;
                let text = seal(row, &name, &value);
                Some((name, text))
            })
            .collect()
    };
    values.with_sealed(keys, &sealed)
}

/// `value`, to be written as variable `name` of `row`, sealed if it must be.
pub fn seal_value(
    row: &Row<'_>,
    execution_id: i64,
    playbook: Option<&str>,
    name: &str,
    value: PgJsonb,
) -> PgJsonb {
    if may_seal() && must_seal(execution_id, playbook, name, &value) {
        PgJsonb::sealed(&seal(row, name, &value))
    } else {
        value
    }
}

/// The value variable `name` of `row` holds: `stored` itself, or, when sealed, decrypted (in
/// the current memory context).
pub fn open(row: &Row<'_>, name: &str, stored: PgJsonb) -> PgJsonb {
    let Some(sealed) = stored.sealed_text() else {
        return stored;
    };
    PgJsonb::parse(&open_text(row, name, &sealed))
}

/// The JSON text a sealed value of variable `name` of `row` holds.
fn open_text(row: &Row<'_>, name: &str, sealed: &str) -> String {
    let aad = row.associated_data(name);
    let opened = match keys::ring().open(&aad, sealed) {
        // The key may have been added since this session read the ring.
        Err(OpenError::UnknownKey(_)) => keys::reloaded().open(&aad, sealed),
        other => other,
    };
    let refused = match opened {
        Ok(plain) => match std::str::from_utf8(&plain) {
            Ok(text) => return text.to_string(),
            Err(_) => OpenError::Forged,
        },
        Err(e) => e,
    };
    let error = match refused {
        OpenError::UnknownKey(id) => Error::new(
            ErrorKind::PrerequisiteState,
            format!(
                "{} is encrypted with key \"{id}\", which the configured key ring does not hold",
                row.describe(name)
            ),
        )
        .with_hint("put the key back into noetl_vars.key_file (or what noetl_vars.key_command prints), after the active one"),
        OpenError::Malformed | OpenError::Forged => Error::new(
            ErrorKind::Undecryptable,
            format!(
                "the encrypted value of {} does not decrypt: wrong key or corrupt data",
                row.describe(name)
            ),
        )
        .with_detail("It was altered, copied from another row, or encrypted under another key of the same id."),
    };
    error.raise()
}

/// `object` (`{name: value}` of variables of `row`) with its sealed members decrypted; `None`
/// when none is sealed.
pub fn open_members(row: &Row<'_>, object: PgJsonb) -> Option<PgJsonb> {
    let opened: Vec<(String, String)> = object
        .members()
        .into_iter()
        .filter_map(|(name, value)| {
            let sealed = value.sealed_text()?;
            let text = open_text(row, &name, &sealed);
            Some((name, text))
        })
        .collect();
    (!opened.is_empty()).then(|| object.with_members(&opened))
}
