//! Text the way Jinja2 (that is, Python) writes it.
//!
//! NoETL's templates were written against Jinja2, where `{{ flag }}` prints `True`, `{{ none }}`
//! prints `None`, a dict prints as `{'a': 1}` and `tojson` sorts keys and puts a space after
//! `:` and `,`. minijinja prints Rust-flavoured text instead, so the environment's formatter,
//! `string` and `tojson` go through this module.

use std::fmt::Write as _;

use minijinja::value::{Value, ValueKind};

use crate::context::LazyJson;
use crate::doc::{DocRef, Number, View};
use crate::error::{Error, ErrorKind, Result};
use crate::output::MAX_DEPTH;

/// Python's `repr(float)`: the shortest text that reads back to the same double, in fixed
/// notation between 1e-4 and 1e16 and in scientific notation outside.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` is the shortest round-trip representation, like Python's repr.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.push_str(&"0".repeat(int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.push_str(&"0".repeat((-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    out
}

pub(crate) fn number_text(n: Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        Number::BigInt(i) => i.to_string(),
        Number::Float(f) => float_repr(f),
    }
}

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
        _ => write_repr(value, out, 0),
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
            for item in value.try_iter().map_err(crate::template::eval_error)? {
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
            let keys = value.try_iter().map_err(crate::template::eval_error)?;
            for (n, key) in keys.enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_repr(&key, out, depth + 1)?;
                out.push_str(": ");
                let item = value.get_item(&key).map_err(crate::template::eval_error)?;
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
    walk(value, 0)
}

/// Appends Python's `repr()` of a document node, at any depth: the walk keeps its own stack.
pub fn write_doc_repr(doc: &DocRef, out: &mut String) {
    /// A container being written, and where in it the walk is.
    struct Open {
        doc: DocRef,
        keys: Option<Vec<String>>,
        next: usize,
        len: usize,
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut node = Some(doc.clone());
    let mut visited = 0usize;
    loop {
        if let Some(doc) = node.take() {
            visited += 1;
            if visited.is_multiple_of(4096) {
                crate::interrupt::poll();
            }
            match doc.view() {
                View::Null => out.push_str("None"),
                View::Bool(b) => out.push_str(if b { "True" } else { "False" }),
                View::Number(n) => out.push_str(&number_text(n)),
                View::String(text) => repr_str(&text, out),
                View::Array(len) => {
                    out.push('[');
                    stack.push(Open {
                        doc,
                        keys: None,
                        next: 0,
                        len,
                    });
                }
                View::Object(_) => {
                    out.push('{');
                    let keys = doc.keys();
                    let len = keys.len();
                    stack.push(Open {
                        doc,
                        keys: Some(keys),
                        next: 0,
                        len,
                    });
                }
            }
        }
        let Some(top) = stack.last_mut() else { break };
        if top.next == top.len {
            out.push(if top.keys.is_some() { '}' } else { ']' });
            stack.pop();
            continue;
        }
        if top.next > 0 {
            out.push_str(", ");
        }
        let i = top.next;
        top.next += 1;
        node = match &top.keys {
            Some(keys) => {
                repr_str(&keys[i], out);
                out.push_str(": ");
                top.doc.get(&keys[i])
            }
            None => top.doc.at(i),
        };
        if node.is_none() {
            out.push_str("None");
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text has a single quote and no double one.
fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            // Python escapes control characters and the invisible Latin-1 ones.
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) || c == '\u{ad}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// A JSON string literal. With `ensure_ascii`, every non-ASCII character is escaped as
/// `\uXXXX` (surrogate pairs above U+FFFF), as Python's `json.dumps` does by default.
pub fn json_string(s: &str, ensure_ascii: bool, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ensure_ascii && !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
    fn float_repr_matches_python() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (123456789.0, "123456789.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e300, "1e+300"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::INFINITY, "inf"),
        ];
        for (f, expected) in cases {
            assert_eq!(float_repr(f), expected, "repr({f:?})");
        }
    }

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

    #[test]
    fn json_string_escapes_astral_characters_as_surrogate_pairs() {
        let mut out = String::new();
        json_string("😀", true, &mut out);
        assert_eq!(out, r#""\ud83d\ude00""#);
    }
}
