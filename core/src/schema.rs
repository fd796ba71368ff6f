//! Typed variables: the JSON Schemas (draft 2020-12) variables are declared with
//! (`noetl.declare_var`), compiled once by the `jsonschema` crate and checked against every
//! value written. What they report names the failing keyword and the instance path, never the
//! value: a variable's value may be a secret, and error messages reach logs.
//!
//! Values are checked as a `serde_json::Value`, built from the document the host already
//! holds (no text round trip). Integers beyond 64 bits and numbers beyond a double's
//! precision are checked as the nearest double.

use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Number as JsonNumber, Value};

use crate::doc::{DocRef, Number, View};
use crate::output::OutValue;

/// A compiled schema.
pub struct Schema {
    validator: jsonschema::Validator,
    bytes: usize,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// Why a schema was refused: the keyword at fault, where it is in the schema, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub keyword: String,
    pub path: String,
    pub reason: String,
}

/// Why a value does not match: the failing keyword and where in the value.
#[derive(Debug, PartialEq, Eq)]
pub struct Violation {
    pub keyword: String,
    /// A JSON Pointer into the value (`""` is the value itself).
    pub path: String,
}

/// The longest reason of a refused schema kept (the crate's messages quote the schema).
const MAX_REASON: usize = 300;

/// Compiles `schema`, which must be a valid draft 2020-12 schema (its meta-schema says so)
/// that the crate can build: no reference it cannot resolve without a network or a file.
pub fn compile(schema: &Value) -> Result<Schema, Refused> {
    if let Err(err) = jsonschema::draft202012::meta::validate(schema) {
        let path = err.instance_path().as_str().to_string();
        return Err(Refused {
            keyword: keyword_at(&path)
                .unwrap_or_else(|| keyword_at(err.schema_path().as_str()).unwrap_or_default()),
            path,
            reason: shortened(err.to_string()),
        });
    }
    match jsonschema::draft202012::options().build(schema) {
        Ok(validator) => Ok(Schema {
            validator,
            bytes: schema.to_string().len(),
        }),
        Err(err) => {
            let path = err.schema_path().as_str().to_string();
            // What the meta-schema lets through and the crate cannot build: a reference it
            // cannot resolve, a pattern that is not a regular expression.
            let keyword = match err.kind() {
                ValidationErrorKind::Referencing(_) => Some("$ref".to_string()),
                ValidationErrorKind::Format { format } if format == "regex" => {
                    Some("pattern".to_string())
                }
                _ => keyword_at(&path),
            };
            Err(Refused {
                keyword: keyword.unwrap_or_else(|| "schema".to_string()),
                path,
                reason: shortened(err.to_string()),
            })
        }
    }
}

/// [`compile`] for a schema the host holds as a document or a built value.
pub fn compile_value(schema: &OutValue) -> Result<Schema, Refused> {
    compile(&to_json(schema))
}

impl Schema {
    /// The first violation of `value`, `None` when it matches.
    pub fn check(&self, value: &OutValue) -> Option<Violation> {
        let instance = to_json(value);
        // The common case, without building an error.
        if self.validator.is_valid(&instance) {
            return None;
        }
        let err = self.validator.iter_errors(&instance).next()?;
        Some(Violation {
            keyword: keyword_at(err.schema_path().as_str()).unwrap_or_default(),
            path: err.instance_path().as_str().to_string(),
        })
    }

    /// The size of the schema's JSON text: what a cache of compiled schemas counts.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The keyword a schema path ends in: its last segment that is not an index (`/anyOf/1` is
/// `anyOf`'s).
fn keyword_at(path: &str) -> Option<String> {
    path.rsplit('/')
        .find(|s| !s.is_empty() && s.parse::<usize>().is_err())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
}

fn shortened(mut reason: String) -> String {
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    reason
}

/// `value` as a `serde_json::Value`.
pub fn to_json(value: &OutValue) -> Value {
    match value {
        OutValue::Null => Value::Null,
        OutValue::Bool(b) => Value::Bool(*b),
        OutValue::Int(i) => Value::from(*i),
        OutValue::BigInt(text) => big(text.parse::<f64>().unwrap_or(f64::MAX)),
        OutValue::Float(f) => big(*f),
        OutValue::String(s) => Value::String(s.clone()),
        OutValue::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        OutValue::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<Map<String, Value>>(),
        ),
        OutValue::Doc(doc) => doc_to_json(doc),
    }
}

fn big(f: f64) -> Value {
    JsonNumber::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A document node as a `serde_json::Value`. Documents are no deeper than what PostgreSQL
/// stores (a few thousand levels at most), and this runs on the evaluation stack's budget
/// of the host: the host checks depth before it stores a value, and so before it checks it.
fn doc_to_json(doc: &DocRef) -> Value {
    match doc.view() {
        View::Null => Value::Null,
        View::Bool(b) => Value::Bool(b),
        View::Number(Number::Int(i)) => Value::from(i),
        View::Number(Number::BigInt(i)) => match u64::try_from(i) {
            Ok(u) => Value::from(u),
            Err(_) => big(i as f64),
        },
        View::Number(Number::Float(f)) => big(f),
        View::String(s) => Value::String(s.into_owned()),
        View::Array(len) => Value::Array(
            (0..len)
                .filter_map(|i| doc.at(i))
                .map(|d| doc_to_json(&d))
                .collect(),
        ),
        View::Object(_) => Value::Object(
            doc.keys()
                .into_iter()
                .filter_map(|k| doc.get(&k).map(|d| (k, doc_to_json(&d))))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::SerdeDoc;
    use serde_json::json;

    fn schema(s: Value) -> Schema {
        compile(&s).expect("a valid schema")
    }

    #[test]
    fn a_matching_value_passes_and_a_mismatch_names_keyword_and_path() {
        let s = schema(json!({"type": "object", "required": ["id"],
                              "properties": {"id": {"type": "integer", "minimum": 1}}}));
        assert_eq!(
            s.check(&OutValue::Doc(SerdeDoc::new(json!({"id": 3})))),
            None
        );
        let v = s
            .check(&OutValue::Doc(SerdeDoc::new(json!({"id": 0}))))
            .unwrap();
        assert_eq!((v.keyword.as_str(), v.path.as_str()), ("minimum", "/id"));
        let v = s.check(&OutValue::Object(vec![])).unwrap();
        assert_eq!((v.keyword.as_str(), v.path.as_str()), ("required", ""));
        let v = s.check(&OutValue::String("12".into())).unwrap();
        assert_eq!((v.keyword.as_str(), v.path.as_str()), ("type", ""));
    }

    #[test]
    fn a_violation_never_carries_the_value() {
        let s = schema(json!({"type": "string", "maxLength": 3}));
        let v = s.check(&OutValue::String("s3cr3t-value".into())).unwrap();
        assert!(!format!("{v:?}").contains("s3cr3t"));
    }

    #[test]
    fn built_values_and_documents_check_alike() {
        let s = schema(json!({"type": "array", "items": {"type": "number"}, "maxItems": 2}));
        assert_eq!(
            s.check(&OutValue::Array(vec![
                OutValue::Int(1),
                OutValue::Float(2.5)
            ])),
            None
        );
        let v = s
            .check(&OutValue::Array(vec![
                OutValue::Int(1),
                OutValue::Bool(true),
            ]))
            .unwrap();
        assert_eq!((v.keyword.as_str(), v.path.as_str()), ("type", "/1"));
        assert!(s
            .check(&OutValue::Doc(SerdeDoc::new(json!([1, 2, 3]))))
            .is_some());
        assert_eq!(
            s.check(&OutValue::Array(vec![OutValue::BigInt(
                "123456789012345678901234".into()
            )])),
            None
        );
    }

    #[test]
    fn an_invalid_schema_is_refused_naming_its_keyword() {
        let r = compile(&json!({"type": "integr"})).unwrap_err();
        assert_eq!(r.keyword, "type");
        let r = compile(&json!({"properties": {"n": {"minimum": "zero"}}})).unwrap_err();
        assert_eq!(
            (r.keyword.as_str(), r.path.as_str()),
            ("minimum", "/properties/n/minimum")
        );
        let r = compile(&json!({"$ref": "https://example.com/schema.json"})).unwrap_err();
        assert_eq!(r.keyword, "$ref");
        assert_eq!(
            compile(&json!({"pattern": "(unclosed"}))
                .unwrap_err()
                .keyword,
            "pattern"
        );
        assert!(compile(&json!(true)).is_ok());
    }

    #[test]
    fn keywords_skip_indexes_and_unescape() {
        assert_eq!(keyword_at("/anyOf/1").as_deref(), Some("anyOf"));
        assert_eq!(keyword_at("/properties/a~1b").as_deref(), Some("a/b"));
        assert_eq!(keyword_at("").as_deref(), None);
    }
}
