//! The response bodies of the NoETL server's `/api/vars` endpoints, field for field.

use crate::doc::DocRef;
use crate::output::OutValue;

/// One stored variable with its metadata, as the host read it.
#[derive(Debug, Clone)]
pub struct VarRow {
    pub name: String,
    pub value: DocRef,
    pub var_type: String,
    pub source_step: Option<String>,
    /// ISO-8601 with offset, as the host formats timestamps.
    pub created_at: String,
    pub accessed_at: String,
    pub access_count: i64,
}

fn string(s: &str) -> OutValue {
    OutValue::String(s.to_string())
}

fn field(name: &str, value: OutValue) -> (String, OutValue) {
    (name.to_string(), value)
}

fn metadata(row: &VarRow, value: OutValue) -> Vec<(String, OutValue)> {
    vec![
        field("value", value),
        field("type", string(&row.var_type)),
        field(
            "source_step",
            row.source_step
                .as_deref()
                .map(string)
                .unwrap_or(OutValue::Null),
        ),
        field("created_at", string(&row.created_at)),
        field("accessed_at", string(&row.accessed_at)),
        field("access_count", OutValue::Int(row.access_count)),
    ]
}

/// `GET /api/vars/{id}`: `{"execution_id", "variables": {name: {…}}, "count"}`.
/// `value_of` decides what each value is shown as (the host may redact it).
pub fn vars_list(
    execution_id: i64,
    rows: &[VarRow],
    value_of: impl Fn(&VarRow) -> OutValue,
) -> OutValue {
    let variables = rows
        .iter()
        .map(|row| {
            (
                row.name.clone(),
                OutValue::Object(metadata(row, value_of(row))),
            )
        })
        .collect();
    OutValue::Object(vec![
        field("execution_id", OutValue::Int(execution_id)),
        field("variables", OutValue::Object(variables)),
        field("count", OutValue::Int(rows.len() as i64)),
    ])
}

/// `GET /api/vars/{id}/{name}`: the variable with its metadata and the execution id.
pub fn vars_get(execution_id: i64, row: &VarRow, value: OutValue) -> OutValue {
    let mut fields = vec![
        field("execution_id", OutValue::Int(execution_id)),
        field("var_name", string(&row.name)),
    ];
    fields.extend(metadata(row, value));
    OutValue::Object(fields)
}

/// `POST /api/vars/{id}`: `{"execution_id", "variables_set", "var_names"}`.
/// With `noetl_vars.scrub_secrets`, `"scrubbed"` names the variables stored as
/// `"[REDACTED]"` where they held credentials (only when there are any).
pub fn set_vars(execution_id: i64, names: &[String], scrubbed: &[String]) -> OutValue {
    let mut body = vec![
        field("execution_id", OutValue::Int(execution_id)),
        field("variables_set", OutValue::Int(names.len() as i64)),
        field(
            "var_names",
            OutValue::Array(names.iter().map(|n| string(n)).collect()),
        ),
    ];
    if !scrubbed.is_empty() {
        body.push(field(
            "scrubbed",
            OutValue::Array(scrubbed.iter().map(|n| string(n)).collect()),
        ));
    }
    OutValue::Object(body)
}

/// `DELETE /api/vars/{id}/{name}`: `{"execution_id", "var_name", "deleted"}`.
pub fn vars_delete(execution_id: i64, name: &str, deleted: bool) -> OutValue {
    OutValue::Object(vec![
        field("execution_id", OutValue::Int(execution_id)),
        field("var_name", string(name)),
        field("deleted", OutValue::Bool(deleted)),
    ])
}

/// `DELETE /api/vars/{id}`: `{"execution_id", "deleted_count"}`.
pub fn vars_cleanup(execution_id: i64, deleted_count: i64) -> OutValue {
    OutValue::Object(vec![
        field("execution_id", OutValue::Int(execution_id)),
        field("deleted_count", OutValue::Int(deleted_count)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::SerdeDoc;

    fn row() -> VarRow {
        VarRow {
            name: "user_id".into(),
            value: SerdeDoc::parse("12345").unwrap(),
            var_type: "step_result".into(),
            source_step: Some("fetch".into()),
            created_at: "2026-11-23T18:00:00.123456+00:00".into(),
            accessed_at: "2026-11-23T18:00:01+00:00".into(),
            access_count: 5,
        }
    }

    #[test]
    fn list_body_has_the_server_fields() {
        let body = vars_list(7205759403792793600, &[row()], |r| {
            OutValue::Doc(r.value.clone())
        });
        assert_eq!(
            body.to_json(),
            r#"{"execution_id": 7205759403792793600, "variables": {"user_id": {"value": 12345, "type": "step_result", "source_step": "fetch", "created_at": "2026-11-23T18:00:00.123456+00:00", "accessed_at": "2026-11-23T18:00:01+00:00", "access_count": 5}}, "count": 1}"#
        );
        assert_eq!(
            vars_list(1, &[], |_| OutValue::Null).to_json(),
            r#"{"execution_id": 1, "variables": {}, "count": 0}"#
        );
    }

    #[test]
    fn get_body_has_the_server_fields() {
        let mut r = row();
        r.source_step = None;
        assert_eq!(
            vars_get(1, &r, OutValue::Doc(r.value.clone())).to_json(),
            r#"{"execution_id": 1, "var_name": "user_id", "value": 12345, "type": "step_result", "source_step": null, "created_at": "2026-11-23T18:00:00.123456+00:00", "accessed_at": "2026-11-23T18:00:01+00:00", "access_count": 5}"#
        );
    }

    #[test]
    fn write_bodies_have_the_server_fields() {
        assert_eq!(
            set_vars(1, &["a".into(), "b".into()], &[]).to_json(),
            r#"{"execution_id": 1, "variables_set": 2, "var_names": ["a", "b"]}"#
        );
        assert_eq!(
            set_vars(1, &["a".into(), "key".into()], &["key".into()]).to_json(),
            r#"{"execution_id": 1, "variables_set": 2, "var_names": ["a", "key"], "scrubbed": ["key"]}"#
        );
        assert_eq!(
            vars_delete(1, "a", false).to_json(),
            r#"{"execution_id": 1, "var_name": "a", "deleted": false}"#
        );
        assert_eq!(
            vars_cleanup(1, 4).to_json(),
            r#"{"execution_id": 1, "deleted_count": 4}"#
        );
    }
}
