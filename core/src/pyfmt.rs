//! Text the way Jinja2 (that is, Python) writes it.
//!
//! NoETL's templates were written against Jinja2, where `{{ flag }}` prints `True`, `{{ none }}`
//! prints `None`, a dict prints as `{'a': 1}` and `tojson` sorts keys and puts a space after
//! `:` and `,`. minijinja prints Rust-flavoured text instead, so the environment's formatter,
//! `string` and `tojson` go through this module.

use std::fmt::Write as _;

use minijinja::value::{Value, ValueKind};

use crate::doctext::{float_repr, repr_str, write_doc_repr};
use crate::value::LazyJson;

use crate::error::{Error, ErrorKind, Result};
use crate::limits::MAX_DEPTH;

pub(crate) fn value_number_text(value: &Value) -> String {
    if value.is_integer() {
        if let Some(i) = value.as_i64() {
            return i.to_string();
        }
        // i128 and u128 print exactly through Display.
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(f) => float_repr(f),
        Err(_) => value.to_string(),
    }
}

/// Python's `str(value)`: what `{{ value }}` prints inside text.
pub fn py_str(value: &Value) -> Result<String> {
    let mut out = String::new();
    write_str(value, &mut out)?;
    Ok(out)
}

/// Appends `str(value)` to `out`.
pub fn write_str(value: &Value, out: &mut String) -> Result<()> {
    match value.kind() {
        ValueKind::String => {
            out.push_str(value.as_str().unwrap_or_default());
            Ok(())
        }
        _ => {
            crate::limits::walk_begin();
            write_repr(value, out, 0)
        }
    }
}

pub(crate) fn too_deep() -> Error {
    Error::new(
        ErrorKind::TooComplex,
        format!("value nests deeper than {MAX_DEPTH} levels"),
    )
}

/// Appends Python's `repr(value)`.
fn write_repr(value: &Value, out: &mut String, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    crate::limits::walk_visit()?;
    if let Some(lazy) = value.downcast_object_ref::<LazyJson>() {
        write_doc_repr(lazy.doc(), out);
        return Ok(());
    }
    match value.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&value_number_text(value)),
        ValueKind::String => repr_str(value.as_str().unwrap_or_default(), out),
        ValueKind::Seq | ValueKind::Iterable => {
            let tuple = value.is_tuple();
            out.push(if tuple { '(' } else { '[' });
            let mut n = 0;
            for item in value.try_iter().map_err(crate::error::eval_error)? {
                if n > 0 {
                    out.push_str(", ");
                }
                write_repr(&item, out, depth + 1)?;
                n += 1;
            }
            if tuple && n == 1 {
                out.push(',');
            }
            out.push(if tuple { ')' } else { ']' });
        }
        ValueKind::Map => {
            out.push('{');
            let keys = value.try_iter().map_err(crate::error::eval_error)?;
            for (n, key) in keys.enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_repr(&key, out, depth + 1)?;
                out.push_str(": ");
                let item = value.get_item(&key).map_err(crate::error::eval_error)?;
                write_repr(&item, out, depth + 1)?;
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{value}");
        }
    }
    Ok(())
}

/// Fails with 54001 when `value` (built by a template) nests deeper than the output limit.
/// Documents are not measured: everything that walks them does so without recursion.
pub fn check_depth(value: &Value) -> Result<()> {
    fn walk(value: &Value, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        crate::limits::walk_visit()?;
        if value.downcast_object_ref::<LazyJson>().is_some() {
            return Ok(());
        }
        match value.kind() {
            ValueKind::Seq | ValueKind::Map => {
                let Ok(items) = value.try_iter() else {
                    return Ok(());
                };
                for item in items {
                    walk(&item, depth + 1)?;
                    if value.kind() == ValueKind::Map {
                        if let Ok(v) = value.get_item(&item) {
                            walk(&v, depth + 1)?;
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    crate::limits::walk_begin();
    walk(value, 0)
}

/// The text of a mapping key in JSON, as Python's `json.dumps` converts non-string keys.
pub fn json_key(key: &Value) -> Result<String> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_string()),
        ValueKind::Number => Ok(value_number_text(key)),
        ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.to_string()),
        ValueKind::None => Ok("null".to_string()),
        other => Err(Error::new(
            ErrorKind::NotJson,
            format!("a {other} cannot be a JSON object key"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_of_values_matches_python() {
        assert_eq!(py_str(&Value::from(true)).unwrap(), "True");
        assert_eq!(py_str(&Value::from(false)).unwrap(), "False");
        assert_eq!(py_str(&Value::from(())).unwrap(), "None");
        assert_eq!(py_str(&Value::from("it's")).unwrap(), "it's");
        assert_eq!(py_str(&Value::from(3.0)).unwrap(), "3.0");
        let v = Value::from(minijinja::value::Serde(
            serde_json::json!({"a": [1, "x", null, true], "b": "it's"}),
        ));
        assert_eq!(
            py_str(&v).unwrap(),
            r#"{'a': [1, 'x', None, True], 'b': "it's"}"#
        );
    }

    #[test]
    fn repr_escapes_control_characters_like_python() {
        let mut out = String::new();
        repr_str("a\nb\\c\u{1}", &mut out);
        assert_eq!(out, r"'a\nb\\c\x01'");
    }
}
