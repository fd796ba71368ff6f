//! Jinja2's `tojson`: `json.dumps(value, sort_keys=True)`, HTML-safe.

use minijinja::value::{Value, ValueKind};

use crate::doctext::{float_repr, json_string};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::MAX_DEPTH;
use crate::pyfmt::{json_key, too_deep, value_number_text};

/// Jinja2's `tojson`: `json.dumps(value, sort_keys=True)` with `<`, `>`, `&` and `'` escaped
/// so the text is safe inside HTML, and `indent` as in `json.dumps`.
pub fn tojson(value: &Value, indent: Option<usize>) -> Result<String> {
    let mut out = String::new();
    crate::limits::walk_begin();
    write_tojson(value, indent, 0, &mut out)?;
    Ok(out
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027"))
}

/// A line break and the indentation of `depth` levels, its size checked before it is built
/// (`indent` is the template's number: 4000000000000000000 must be an error, not an
/// allocation).
fn newline(indent: Option<usize>, depth: usize, out: &mut String) -> Result<()> {
    if let Some(n) = indent {
        let spaces = crate::bounds::check_indent(n, depth)?;
        crate::bounds::check_output(out.len().saturating_add(spaces))?;
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', spaces));
    }
    Ok(())
}

fn write_tojson(
    value: &Value,
    indent: Option<usize>,
    depth: usize,
    out: &mut String,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    crate::limits::walk_visit()?;
    match value.kind() {
        ValueKind::Undefined => {
            return Err(Error::new(
                ErrorKind::Undefined,
                "tojson was given an undefined value",
            ))
        }
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if value.is_integer() {
                out.push_str(&value_number_text(value));
            } else {
                let f = f64::try_from(value.clone()).map_err(crate::error::eval_error)?;
                out.push_str(&json_float(f));
            }
        }
        ValueKind::String => json_string(value.as_str().unwrap_or_default(), true, out),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value
                .try_iter()
                .map_err(crate::error::eval_error)?
                .collect();
            let items = items.iter().map(|item| (None, item));
            write_container(['[', ']'], items, indent, depth, out)?;
        }
        ValueKind::Map => {
            let mut entries = Vec::new();
            for key in value.try_iter().map_err(crate::error::eval_error)? {
                let item = value.get_item(&key).map_err(crate::error::eval_error)?;
                entries.push((json_key(&key)?, item));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let items = entries.iter().map(|(key, item)| (Some(key.as_str()), item));
            write_container(['{', '}'], items, indent, depth, out)?;
        }
        other => {
            return Err(Error::new(
                ErrorKind::NotJson,
                format!("a {other} value is not JSON serializable"),
            ))
        }
    }
    Ok(())
}

/// A list (items without keys) or an object (items with keys, sorted) between `brackets`.
fn write_container<'a>(
    brackets: [char; 2],
    items: impl ExactSizeIterator<Item = (Option<&'a str>, &'a Value)>,
    indent: Option<usize>,
    depth: usize,
    out: &mut String,
) -> Result<()> {
    let item_sep = if indent.is_some() { "," } else { ", " };
    let empty = items.len() == 0;
    out.push(brackets[0]);
    for (i, (key, item)) in items.enumerate() {
        if i > 0 {
            out.push_str(item_sep);
        }
        newline(indent, depth + 1, out)?;
        if let Some(key) = key {
            json_string(key, true, out);
            out.push_str(": ");
        }
        write_tojson(item, indent, depth + 1, out)?;
    }
    if !empty {
        newline(indent, depth, out)?;
    }
    out.push(brackets[1]);
    Ok(())
}

fn json_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        float_repr(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tojson_matches_jinja2() {
        let v = Value::from(minijinja::value::Serde(
            serde_json::json!({"b": 1, "a": [true, null, "<é>"], "c": 1.0}),
        ));
        assert_eq!(
            tojson(&v, None).unwrap(),
            r#"{"a": [true, null, "\u003c\u00e9\u003e"], "b": 1, "c": 1.0}"#
        );
        assert_eq!(
            tojson(&v, Some(2)).unwrap(),
            "{\n  \"a\": [\n    true,\n    null,\n    \"\\u003c\\u00e9\\u003e\"\n  ],\n  \"b\": 1,\n  \"c\": 1.0\n}"
        );
        assert_eq!(
            tojson(&Value::from("it's"), None).unwrap(),
            r#""it\u0027s""#
        );
        assert_eq!(
            tojson(&Value::from(Vec::<Value>::new()), None).unwrap(),
            "[]"
        );
    }
}
