//! What gets stored: a JSON tree whose leaves may be nodes of an input document, copied
//! verbatim by the host, so that `{{ result.id }}` keeps every digit it had in `result`.

use std::collections::HashMap;
use std::fmt::Write as _;

use minijinja::value::{Value, ValueKind};

use crate::doc::{DocRef, Number};
use crate::error::{Error, ErrorKind, Result};
use crate::pyfmt;

/// How a float is written in stored JSON and in text (Python's `repr`), for hosts that store floats themselves.
pub use crate::doctext::float_repr;
use crate::value::LazyJson;

pub(crate) use crate::limits::MAX_DEPTH;

#[derive(Debug, Clone)]
pub enum OutValue {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond 64 bits, as exact decimal text.
    BigInt(String),
    /// Always finite.
    Float(f64),
    String(String),
    Array(Vec<OutValue>),
    /// Keys are unique.
    Object(Vec<(String, OutValue)>),
    /// A node of an input document, stored exactly as it is there.
    Doc(DocRef),
}

impl OutValue {
    /// Converts what a template evaluated to. `silent_undefined` is the value of
    /// `{{ x if false }}` (no else): Jinja2 prints it as nothing, here it becomes `null`.
    pub fn from_value(value: &Value) -> Result<OutValue> {
        crate::limits::walk_begin();
        convert(value, 0)
    }

    /// JSON text in the style of Python's `json.dumps` (used by tests and generic hosts; the
    /// PostgreSQL layer builds `jsonb` directly).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write_json(self, &mut out);
        out
    }
}

impl From<&str> for OutValue {
    fn from(s: &str) -> OutValue {
        OutValue::String(s.to_string())
    }
}

fn too_deep() -> Error {
    Error::new(
        ErrorKind::TooComplex,
        format!("value nests deeper than {MAX_DEPTH} levels"),
    )
}

fn convert(value: &Value, depth: usize) -> Result<OutValue> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    crate::limits::walk_visit()?;
    if let Some(lazy) = value.downcast_object_ref::<LazyJson>() {
        return Ok(OutValue::Doc(lazy.doc().clone()));
    }
    match value.kind() {
        ValueKind::Undefined => {
            if depth == 0 {
                Ok(OutValue::Null)
            } else {
                Err(Error::new(
                    ErrorKind::Undefined,
                    "undefined value inside a list or mapping",
                ))
            }
        }
        ValueKind::None => Ok(OutValue::Null),
        ValueKind::Bool => Ok(OutValue::Bool(value.is_true())),
        ValueKind::Number => number(value),
        ValueKind::String => {
            storable_text(value.as_str().unwrap_or_default()).map(OutValue::String)
        }
        ValueKind::Bytes => Err(
            Error::new(ErrorKind::NotJson, "bytes cannot be stored as JSON")
                .with_hint("decode them to text first, e.g. with b64encode"),
        ),
        ValueKind::Seq | ValueKind::Iterable => convert_seq(value, depth),
        ValueKind::Map => convert_map(value, depth),
        ValueKind::Plain => Err(Error::new(
            ErrorKind::NotJson,
            format!("a {} cannot be stored as JSON", describe_plain(value)),
        )),
        ValueKind::Invalid => Err(match value.try_iter() {
            Err(err) => crate::error::eval_error(err),
            Ok(_) => Error::new(ErrorKind::Evaluation, "invalid value"),
        }),
        _ => Err(Error::new(
            ErrorKind::NotJson,
            format!("a {} value cannot be stored as JSON", value.kind()),
        )),
    }
}

fn convert_seq(value: &Value, depth: usize) -> Result<OutValue> {
    let mut items = Vec::with_capacity(value.len().unwrap_or(0).min(1 << 16));
    for (n, item) in value
        .try_iter()
        .map_err(crate::error::eval_error)?
        .enumerate()
    {
        if n % 1024 == 1023 {
            crate::interrupt::poll();
        }
        items.push(convert(&item, depth + 1)?);
    }
    Ok(OutValue::Array(items))
}

fn convert_map(value: &Value, depth: usize) -> Result<OutValue> {
    let mut entries: Vec<(String, OutValue)> = Vec::new();
    // Distinct template keys can meet as one JSON key (`1` and `'1'`): the last wins.
    let mut index: HashMap<String, usize> = HashMap::new();
    for (n, key) in value
        .try_iter()
        .map_err(crate::error::eval_error)?
        .enumerate()
    {
        if n % 1024 == 1023 {
            crate::interrupt::poll();
        }
        let item = value.get_item(&key).map_err(crate::error::eval_error)?;
        let key = storable_text(&pyfmt::json_key(&key)?)?;
        let item = convert(&item, depth + 1)?;
        match index.get(&key) {
            Some(&at) => entries[at].1 = item,
            None => {
                index.insert(key.clone(), entries.len());
                entries.push((key, item));
            }
        }
    }
    Ok(OutValue::Object(entries))
}

fn describe_plain(value: &Value) -> &'static str {
    if value.as_object().is_some() {
        "callable or opaque object"
    } else {
        "plain object"
    }
}

fn number(value: &Value) -> Result<OutValue> {
    if value.is_integer() {
        if let Some(i) = value.as_i64() {
            return Ok(OutValue::Int(i));
        }
        if let Ok(i) = i128::try_from(value.clone()) {
            return Ok(OutValue::BigInt(i.to_string()));
        }
        if let Ok(u) = u128::try_from(value.clone()) {
            return Ok(OutValue::BigInt(u.to_string()));
        }
    }
    let f = f64::try_from(value.clone()).map_err(crate::error::eval_error)?;
    float(f)
}

/// Text as `jsonb` can hold it: anything but U+0000.
pub fn storable_text(s: &str) -> Result<String> {
    if s.contains('\0') {
        return Err(Error::new(
            ErrorKind::NulCharacter,
            "text contains a NUL character (\\u0000), which jsonb cannot store",
        ));
    }
    Ok(s.to_string())
}

/// A float as JSON can hold it.
pub fn float(f: f64) -> Result<OutValue> {
    if f.is_finite() {
        Ok(OutValue::Float(f))
    } else {
        Err(Error::new(
            ErrorKind::NumberOutOfRange,
            format!(
                "{} cannot be stored as a JSON number",
                crate::doctext::float_repr(f)
            ),
        ))
    }
}

impl From<Number> for OutValue {
    fn from(n: Number) -> OutValue {
        match n {
            Number::Int(i) => OutValue::Int(i),
            Number::BigInt(i) => OutValue::BigInt(i.to_string()),
            Number::Float(f) if f.is_finite() => OutValue::Float(f),
            Number::Float(_) => OutValue::Null,
        }
    }
}

fn write_json(value: &OutValue, out: &mut String) {
    match value {
        OutValue::Null => out.push_str("null"),
        OutValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        OutValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        OutValue::BigInt(s) => out.push_str(s),
        OutValue::Float(f) => out.push_str(&crate::doctext::float_repr(*f)),
        OutValue::String(s) => crate::doctext::json_string(s, false, out),
        OutValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(item, out);
            }
            out.push(']');
        }
        OutValue::Object(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                crate::doctext::json_string(k, false, out);
                out.push_str(": ");
                write_json(v, out);
            }
            out.push('}');
        }
        OutValue::Doc(doc) => crate::doctext::write_doc(doc, &crate::doctext::Json, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::SerdeDoc;

    #[test]
    fn scalars_keep_their_json_types() {
        assert_eq!(
            OutValue::from_value(&Value::from(12345)).unwrap().to_json(),
            "12345"
        );
        assert_eq!(
            OutValue::from_value(&Value::from(1.5)).unwrap().to_json(),
            "1.5"
        );
        assert_eq!(
            OutValue::from_value(&Value::from(2.0)).unwrap().to_json(),
            "2.0"
        );
        assert_eq!(
            OutValue::from_value(&Value::from(true)).unwrap().to_json(),
            "true"
        );
        assert_eq!(
            OutValue::from_value(&Value::from(())).unwrap().to_json(),
            "null"
        );
        assert_eq!(
            OutValue::from_value(&Value::from("007")).unwrap().to_json(),
            "\"007\""
        );
    }

    #[test]
    fn integers_beyond_64_bits_stay_exact() {
        let v = Value::from(12345678901234567890123_i128);
        assert_eq!(
            OutValue::from_value(&v).unwrap().to_json(),
            "12345678901234567890123"
        );
    }

    #[test]
    fn non_finite_floats_are_refused() {
        let err = OutValue::from_value(&Value::from(f64::INFINITY)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::NumberOutOfRange);
        let err = OutValue::from_value(&Value::from(f64::NAN)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::NumberOutOfRange);
    }

    #[test]
    fn lazy_documents_are_kept_verbatim() {
        let doc = SerdeDoc::parse(r#"{"a": [1, 2]}"#).unwrap();
        let v = LazyJson::value(doc.clone(), 0);
        match OutValue::from_value(&v).unwrap() {
            OutValue::Doc(d) => assert!(std::sync::Arc::ptr_eq(&d, &doc)),
            other => panic!("expected a verbatim node, got {other:?}"),
        }
    }

    /// An array nested `depth` deep (`[[[…]]]`), made on demand so that building and dropping
    /// it recurses nowhere.
    #[derive(Debug)]
    struct Nested(usize);

    impl crate::doc::Doc for Nested {
        fn view(&self) -> crate::doc::View<'_> {
            crate::doc::View::Array(usize::from(self.0 > 0))
        }
        fn get(&self, _: &str) -> Option<DocRef> {
            None
        }
        fn at(&self, index: usize) -> Option<DocRef> {
            (index == 0 && self.0 > 0).then(|| std::sync::Arc::new(Nested(self.0 - 1)) as DocRef)
        }
        fn keys(&self) -> Vec<String> {
            Vec::new()
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    #[test]
    fn a_document_of_any_depth_is_written_as_json_without_recursion() {
        const DEPTH: usize = 200_000;
        // A recursive writer needs far more than this thread's 256 KiB for 200,000 levels.
        let text = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| OutValue::Doc(std::sync::Arc::new(Nested(DEPTH))).to_json())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(text.len(), 2 * (DEPTH + 1));
        assert!(text.starts_with("[[[") && text.ends_with("]]]"));
    }

    #[test]
    fn maps_and_lists_convert_recursively() {
        let v = Value::from(minijinja::value::Serde(
            serde_json::json!({"b": [1, "x", null], "a": {"c": false}}),
        ));
        assert_eq!(
            OutValue::from_value(&v).unwrap().to_json(),
            r#"{"b": [1, "x", null], "a": {"c": false}}"#
        );
    }

    #[test]
    fn callables_are_not_json() {
        let f = Value::from_function(|| Ok(Value::from(1)));
        assert_eq!(
            OutValue::from_value(&f).unwrap_err().kind,
            ErrorKind::NotJson
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut v = Value::from(1);
        for _ in 0..(MAX_DEPTH + 5) {
            v = Value::from(vec![v]);
        }
        // Conversion always runs on the evaluation stack (as `render::evaluate` does), and so
        // does dropping a deep value.
        let limits = crate::limits::Limits::default();
        let err = crate::stack::run(&limits, || OutValue::from_value(&v).unwrap_err()).unwrap();
        assert_eq!(err.kind, ErrorKind::TooComplex);
        crate::stack::run(&limits, move || drop(v)).unwrap();
    }
}
