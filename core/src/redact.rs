//! Redaction of credentials in the API response bodies (`vars_list`, `vars_get`).
//!
//! NoETL stores bearer tokens and API responses in variables; the `/api/vars` endpoints are read
//! by dashboards and logs. Values that look like credentials are shown as `"[REDACTED]"` there.
//! The stored data, the value functions (`get_var`, `get_all_vars`) and templates see the real
//! value: redaction is for display only.

use crate::doc::{DocRef, View};
use crate::limits::MAX_DEPTH;
use crate::output::OutValue;

mod shapes;

pub(crate) use shapes::is_secret_value;

pub const REDACTED: &str = "[REDACTED]";

/// Words that make a key (or a variable name) a credential wherever they appear in it, after
/// lower-casing and ignoring `-`, `_` and `.`: `access_token`, `X-Api-Key`, `db.password`.
const SECRET_WORDS: [&str; 12] = [
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "privatekey",
    "accesskey",
    "sessionid",
    "clientsecret",
];

/// Whether a key or variable name names a credential.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_WORDS.iter().any(|w| folded.contains(w))
}

/// The value of variable `name` as the API shows it.
pub fn redact(name: &str, value: &DocRef) -> OutValue {
    if is_secret_name(name) {
        return OutValue::String(REDACTED.into());
    }
    walk(value, 0).unwrap_or_else(|| OutValue::Doc(value.clone()))
}

/// Whether variable `name` holding `value` is a credential the API bodies would redact (in
/// part or whole): what `noetl_vars.encrypt_secrets` encrypts.
pub fn is_credential(name: &str, value: &OutValue) -> bool {
    is_secret_name(name) || scrub_out(value.clone(), 0).1
}

/// What a write stores for variable `name` when credentials are scrubbed before they are
/// stored (`noetl_vars.scrub_secrets`): the value with every credential the API bodies would
/// redact replaced by `"[REDACTED]"` (all of it when the name names one), and whether
/// anything was. Nesting past `MAX_DEPTH` is not looked into, as for the bodies.
pub fn scrub(name: &str, value: OutValue) -> (OutValue, bool) {
    if is_secret_name(name) {
        return (OutValue::String(REDACTED.into()), true);
    }
    scrub_out(value, 0)
}

fn scrub_out(value: OutValue, depth: usize) -> (OutValue, bool) {
    if depth >= MAX_DEPTH {
        return (value, false);
    }
    match value {
        OutValue::String(s) if is_secret_value(&s) => (OutValue::String(REDACTED.into()), true),
        OutValue::Doc(doc) => match walk(&doc, depth) {
            Some(shown) => (shown, true),
            None => (OutValue::Doc(doc), false),
        },
        OutValue::Array(items) => {
            let mut changed = false;
            let items = items
                .into_iter()
                .map(|item| {
                    let (item, c) = scrub_out(item, depth + 1);
                    changed |= c;
                    item
                })
                .collect();
            (OutValue::Array(items), changed)
        }
        OutValue::Object(entries) => {
            let mut changed = false;
            let entries = entries
                .into_iter()
                .map(|(k, item)| {
                    let (item, c) = if is_secret_name(&k) {
                        (OutValue::String(REDACTED.into()), true)
                    } else {
                        scrub_out(item, depth + 1)
                    };
                    changed |= c;
                    (k, item)
                })
                .collect();
            (OutValue::Object(entries), changed)
        }
        other => (other, false),
    }
}

/// What `doc` shows when something under it is redacted; `None` when nothing is, and it is
/// shown exactly as stored without being rebuilt. Every node is looked at once, so the work is
/// linear in the size of the value; nesting past `MAX_DEPTH` is not looked into.
fn walk(doc: &DocRef, depth: usize) -> Option<OutValue> {
    if depth >= MAX_DEPTH {
        return None;
    }
    let redacted = || OutValue::String(REDACTED.into());
    match doc.view() {
        View::String(s) => is_secret_value(&s).then(redacted),
        View::Array(len) => {
            let items: Vec<(DocRef, Option<OutValue>)> = (0..len)
                .filter_map(|i| doc.at(i))
                .map(|item| {
                    let shown = walk(&item, depth + 1);
                    (item, shown)
                })
                .collect();
            items.iter().any(|(_, shown)| shown.is_some()).then(|| {
                OutValue::Array(
                    items
                        .into_iter()
                        .map(|(item, shown)| shown.unwrap_or(OutValue::Doc(item)))
                        .collect(),
                )
            })
        }
        View::Object(_) => {
            let entries: Vec<(String, DocRef, Option<OutValue>)> = doc
                .keys()
                .into_iter()
                .filter_map(|k| {
                    let item = doc.get(&k)?;
                    let shown = if is_secret_name(&k) {
                        Some(redacted())
                    } else {
                        walk(&item, depth + 1)
                    };
                    Some((k, item, shown))
                })
                .collect();
            entries
                .iter()
                .any(|(_, _, shown)| shown.is_some())
                .then(|| {
                    OutValue::Object(
                        entries
                            .into_iter()
                            .map(|(k, item, shown)| (k, shown.unwrap_or(OutValue::Doc(item))))
                            .collect(),
                    )
                })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::SerdeDoc;

    fn shown(name: &str, json: &str) -> String {
        redact(name, &SerdeDoc::parse(json).unwrap()).to_json()
    }

    #[test]
    fn credential_names_hide_the_whole_value() {
        for name in [
            "api_token",
            "API-KEY",
            "x_api_key",
            "db.password",
            "Authorization",
            "session_cookie",
            "client_secret",
            "aws_access_key",
        ] {
            assert_eq!(
                shown(name, r#"{"anything": 1}"#),
                r#""[REDACTED]""#,
                "{name}"
            );
        }
    }

    #[test]
    fn ordinary_names_and_values_are_shown_exactly() {
        assert_eq!(shown("user_id", "1234567890123"), "1234567890123");
        assert_eq!(
            shown("note", r#""a token of thanks is not a token""#),
            r#""a token of thanks is not a token""#
        );
        assert_eq!(
            shown("tokens_used", "42"),
            r#""[REDACTED]""#,
            "a name containing 'token' is treated as a secret"
        );
    }

    #[test]
    fn nested_secret_keys_and_credential_shaped_values_are_redacted() {
        assert_eq!(
            shown(
                "response",
                r#"{"headers": {"Authorization": "Bearer abc", "Accept": "json"}, "user": "ada"}"#
            ),
            r#"{"headers": {"Authorization": "[REDACTED]", "Accept": "json"}, "user": "ada"}"#
        );
        assert_eq!(
            shown("auth_header", r#""Bearer eyJabc""#),
            r#""[REDACTED]""#
        );
        assert_eq!(
            shown("h", r#"["Basic dXNlcjpwYXNz", "plain"]"#),
            r#"["[REDACTED]", "plain"]"#
        );
        assert_eq!(
            shown(
                "jwt_like",
                r#""eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl""#
            ),
            r#""[REDACTED]""#
        );
        assert_eq!(
            shown(
                "claims",
                r#"{"raw": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}"#
            ),
            r#"{"raw": "[REDACTED]"}"#
        );
    }

    #[test]
    fn scrubbing_replaces_credentials_in_built_values_and_documents_alike() {
        let doc = SerdeDoc::parse(r#"{"auth": "Bearer x", "n": 1}"#).unwrap();
        let built = OutValue::Object(vec![
            ("plain".into(), OutValue::Int(1)),
            ("doc".into(), OutValue::Doc(doc)),
            (
                "list".into(),
                OutValue::Array(vec![OutValue::String("ghp_".to_string() + &"a".repeat(36))]),
            ),
        ]);
        let (scrubbed, changed) = scrub("response", built);
        assert!(changed);
        assert_eq!(
            scrubbed.to_json(),
            r#"{"plain": 1, "doc": {"auth": "[REDACTED]", "n": 1}, "list": ["[REDACTED]"]}"#
        );
        assert_eq!(
            scrub("api_token", OutValue::Int(7)).0.to_json(),
            r#""[REDACTED]""#
        );
        let (kept, changed) = scrub("note", OutValue::String("no secret here".into()));
        assert!(!changed);
        assert_eq!(kept.to_json(), r#""no secret here""#);
    }

    #[test]
    fn things_that_only_resemble_credentials_are_kept() {
        assert!(!is_secret_value("Bearer"));
        assert!(!is_secret_value("basic"));
        assert!(!is_secret_value("version 1.2.3"));
        assert!(!is_secret_value("eyJ.a.b"));
        assert!(!is_secret_name("author"));
        assert!(!is_secret_name("status"));
    }
}
