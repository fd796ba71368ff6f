//! Text of documents and scalars the way Python writes it: `repr()` of floats, strings and
//! whole documents (at any depth, without recursion), and JSON string literals. Knows nothing
//! of template values; [`crate::pyfmt`] builds on it for those.

use std::fmt::Write as _;

use crate::doc::{DocRef, Number, View};

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

pub fn number_text(n: Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        Number::BigInt(i) => i.to_string(),
        Number::Float(f) => float_repr(f),
    }
}

/// How a document's nodes are written: as Python's `repr()` or as JSON. The walk
/// ([`write_doc`]) is the same for both.
pub trait DocStyle {
    /// A scalar node (never an array or object).
    fn scalar(&self, view: &View<'_>, out: &mut String);
    /// An object key.
    fn key(&self, key: &str, out: &mut String);
    /// What a child the document does not have after all is written as.
    const MISSING: &'static str;
}

/// Python's `repr()`: `None`, `True`, `'text'`, `{'a': [1, 2.5]}`.
pub struct Repr;

impl DocStyle for Repr {
    fn scalar(&self, view: &View<'_>, out: &mut String) {
        match view {
            View::Null => out.push_str("None"),
            View::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            View::Number(n) => out.push_str(&number_text(*n)),
            View::String(text) => repr_str(text, out),
            View::Array(_) | View::Object(_) => {}
        }
    }
    fn key(&self, key: &str, out: &mut String) {
        repr_str(key, out);
    }
    const MISSING: &'static str = "None";
}

/// JSON as `noetl_vars` writes stored values: `", "` and `": "` separators, UTF-8 kept.
pub struct Json;

impl DocStyle for Json {
    fn scalar(&self, view: &View<'_>, out: &mut String) {
        match view {
            View::Null => out.push_str("null"),
            View::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            // Non-finite floats cannot be stored; a document never holds one.
            View::Number(Number::Float(f)) if !f.is_finite() => out.push_str("null"),
            View::Number(n) => out.push_str(&number_text(*n)),
            View::String(text) => json_string(text, false, out),
            View::Array(_) | View::Object(_) => {}
        }
    }
    fn key(&self, key: &str, out: &mut String) {
        json_string(key, false, out);
    }
    const MISSING: &'static str = "null";
}

/// Appends Python's `repr()` of a document node, at any depth.
pub fn write_doc_repr(doc: &DocRef, out: &mut String) {
    write_doc(doc, &Repr, out);
}

/// Appends a document node in `style`, at any depth: the walk keeps its own stack instead of
/// recursing, so a document nested as deep as `jsonb` allows cannot exhaust the stack.
pub fn write_doc(doc: &DocRef, style: &impl DocStyle, out: &mut String) {
    let mut stack: Vec<OpenContainer> = Vec::new();
    let mut node = Some(doc.clone());
    let mut visited = 0usize;
    loop {
        if let Some(doc) = node.take() {
            visited += 1;
            if visited.is_multiple_of(4096) {
                crate::interrupt::poll();
            }
            write_scalar_or_open(doc, style, out, &mut stack);
        }
        let Some(top) = stack.last_mut() else { break };
        match top.next_child(style, out) {
            Some(child) => node = child,
            None => {
                stack.pop();
            }
        }
    }
}

/// A container being written by [`write_doc`], and where in it the walk is.
struct OpenContainer {
    doc: DocRef,
    /// The keys of an object, in order; `None` for an array.
    keys: Option<Vec<String>>,
    next: usize,
    len: usize,
}

impl OpenContainer {
    /// Writes what comes before the next child (separator, key) and returns it (`Some(None)`
    /// for a missing one, written as [`DocStyle::MISSING`]), or closes the container and
    /// returns `None`.
    fn next_child<S: DocStyle>(&mut self, style: &S, out: &mut String) -> Option<Option<DocRef>> {
        if self.next == self.len {
            out.push(if self.keys.is_some() { '}' } else { ']' });
            return None;
        }
        if self.next > 0 {
            out.push_str(", ");
        }
        let i = self.next;
        self.next += 1;
        let child = match &self.keys {
            Some(keys) => {
                style.key(&keys[i], out);
                out.push_str(": ");
                self.doc.get(&keys[i])
            }
            None => self.doc.at(i),
        };
        if child.is_none() {
            out.push_str(S::MISSING);
        }
        Some(child)
    }
}

/// Writes a scalar whole, or a container's opening bracket, pushing the container to walk.
fn write_scalar_or_open(
    doc: DocRef,
    style: &impl DocStyle,
    out: &mut String,
    stack: &mut Vec<OpenContainer>,
) {
    let view = doc.view();
    let keys = match view {
        View::Array(_) => None,
        View::Object(_) => Some(doc.keys()),
        scalar => return style.scalar(&scalar, out),
    };
    out.push(if keys.is_some() { '{' } else { '[' });
    let len = match (&view, &keys) {
        (_, Some(keys)) => keys.len(),
        (View::Array(len), None) => *len,
        _ => 0,
    };
    stack.push(OpenContainer {
        doc,
        keys,
        next: 0,
        len,
    });
}

/// Python's `repr(str)`: single quotes unless the text has a single quote and no double one.
pub fn repr_str(s: &str, out: &mut String) {
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
    fn json_string_escapes_astral_characters_as_surrogate_pairs() {
        let mut out = String::new();
        json_string("😀", true, &mut out);
        assert_eq!(out, r#""\ud83d\ude00""#);
    }
}
