//! Filters and functions that make minijinja answer as Jinja2 does: Python's `int()` and
//! `float()` conversions, `range` (polling the host, so loops can be cancelled), base64,
//! `now()`, and `pprint` (depth-checked and bounded in size, never a panic).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use minijinja::value::{Kwargs, Value};
use minijinja::State;

use super::diagnostics::to_minijinja;
use crate::error::{Error, ErrorKind};

fn undefined_argument(filter: &str) -> minijinja::Error {
    minijinja::Error::new(
        minijinja::ErrorKind::UndefinedError,
        format!("{filter} was given an undefined value"),
    )
}

/// An argument given by position or, failing that, by keyword (Jinja2 accepts both).
fn argument<T>(
    positional: Option<T>,
    kwargs: &Kwargs,
    name: &str,
    fallback: T,
) -> std::result::Result<T, minijinja::Error>
where
    T: for<'a> minijinja::value::ArgType<'a, Output = T>,
{
    match positional {
        Some(v) => Ok(v),
        None => Ok(kwargs.get::<Option<T>>(name)?.unwrap_or(fallback)),
    }
}

/// Jinja2's `int`: `int(value)`, for text `int(value, base)`, else `int(float(value))`, else
/// `default` (so `'abc' | int` is 0 and `'3.7' | int` is 3).
pub(super) fn jinja2_int(
    value: Value,
    default: Option<Value>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> std::result::Result<Value, minijinja::Error> {
    use minijinja::value::ValueKind as K;
    let default = argument(default, &kwargs, "default", Value::from(0))?;
    let base = argument(base, &kwargs, "base", 10)?;
    kwargs.assert_all_used()?;
    if !(2..=36).contains(&base) {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "int() base must be between 2 and 36",
        ));
    }
    match value.kind() {
        K::Undefined => Err(undefined_argument("int")),
        K::Bool => Ok(Value::from(value.is_true() as i64)),
        K::Number if value.is_integer() => Ok(value),
        K::Number => Ok(f64::try_from(value)
            .ok()
            .and_then(float_to_int)
            .unwrap_or(default)),
        K::String => {
            let text = value.as_str().unwrap_or_default();
            Ok(parse_python_int(text, base)
                .or_else(|| parse_python_float(text).and_then(float_to_int))
                .unwrap_or(default))
        }
        _ => Ok(default),
    }
}

/// Jinja2's `float`: `float(value)`, else `default`.
pub(super) fn jinja2_float(
    value: Value,
    default: Option<Value>,
    kwargs: Kwargs,
) -> std::result::Result<Value, minijinja::Error> {
    use minijinja::value::ValueKind as K;
    let default = argument(default, &kwargs, "default", Value::from(0.0))?;
    kwargs.assert_all_used()?;
    match value.kind() {
        K::Undefined => Err(undefined_argument("float")),
        K::Bool => Ok(Value::from(value.is_true() as i64 as f64)),
        K::Number => Ok(f64::try_from(value).map(Value::from).unwrap_or(default)),
        K::String => Ok(parse_python_float(value.as_str().unwrap_or_default())
            .map(Value::from)
            .unwrap_or(default)),
        _ => Ok(default),
    }
}

fn float_to_int(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    let t = f.trunc();
    if t.abs() < 9.0e15 {
        Some(Value::from(t as i64))
    } else {
        Some(Value::from(t as i128))
    }
}

/// Python's `int(text, base)`: surrounding whitespace, a sign, `_` between digits, and for
/// bases 2, 8 and 16 an optional `0b`/`0o`/`0x` prefix.
fn parse_python_int(text: &str, base: u32) -> Option<Value> {
    let t = text.trim();
    let (negative, t) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let prefixes: &[&str] = match base {
        16 => &["0x", "0X"],
        8 => &["0o", "0O"],
        2 => &["0b", "0B"],
        _ => &[],
    };
    let t = prefixes.iter().find_map(|p| t.strip_prefix(p)).unwrap_or(t);
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let digits: String = t.chars().filter(|c| *c != '_').collect();
    let n = i128::from_str_radix(&digits, base).ok()?;
    let n = if negative { -n } else { n };
    Some(i64::try_from(n).map(Value::from).unwrap_or(Value::from(n)))
}

/// Python's `float(text)`: whitespace, `_` between digits, `inf` and `nan` spellings.
fn parse_python_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let cleaned: String = t.chars().filter(|c| *c != '_').collect();
    let lower = cleaned.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse().ok();
    }
    if unsigned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
    {
        cleaned.parse().ok()
    } else {
        None
    }
}

/// The most items `range()` produces, as minijinja's own `range` allows.
const MAX_RANGE: i128 = 100_000;

pub(super) fn range(
    lower: i64,
    upper: Option<i64>,
    step: Option<i64>,
) -> std::result::Result<Value, minijinja::Error> {
    let (start, stop) = match upper {
        Some(upper) => (lower as i128, upper as i128),
        None => (0, lower as i128),
    };
    let step = step.unwrap_or(1) as i128;
    if step == 0 {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "cannot create range with step of 0",
        ));
    }
    let len = if step > 0 {
        ((stop - start + step - 1) / step).max(0)
    } else {
        ((start - stop - step - 1) / -step).max(0)
    };
    if len > MAX_RANGE {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "range has too many elements",
        ));
    }
    Ok(Value::make_iterable(move || {
        (0..len).map(move |i| {
            if i % 1024 == 0 {
                crate::interrupt::poll();
            }
            Value::from((start + i * step) as i64)
        })
    }))
}

pub(super) fn b64encode(value: Value) -> std::result::Result<String, minijinja::Error> {
    let text = crate::pyfmt::py_str(&value).map_err(to_minijinja)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(text.as_bytes()))
}

pub(super) fn b64decode(value: String) -> std::result::Result<String, minijinja::Error> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let cleaned: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(cleaned.as_bytes()).ok())
        .ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "b64decode: not base64",
            )
        })?;
    String::from_utf8(bytes).map_err(|_| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "b64decode: the decoded bytes are not UTF-8 text",
        )
    })
}

/// The wall-clock time as Unix seconds.
pub(super) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Jinja2's `pprint`, as minijinja's (its pretty debug form), for values no deeper than the
/// output limit and texts no longer than `noetl_vars.max_value_bytes`; more is an error,
/// never a panic.
pub(super) fn pprint(
    state: &State<'_, '_>,
    value: Value,
) -> std::result::Result<String, minijinja::Error> {
    let max_bytes = crate::limits::text_limit();
    crate::pyfmt::check_depth(&value).map_err(to_minijinja)?;
    let mut out = Capped {
        text: String::new(),
        max: max_bytes,
    };
    if std::fmt::write(&mut out, format_args!("{value:#?}")).is_err() {
        return Err(to_minijinja(Error::new(
            ErrorKind::ValueTooLarge,
            format!("pprint output is more than noetl_vars.max_value_bytes ({max_bytes})"),
        )));
    }
    state.consume_fuel(out.text.len() as u64 / 64)?;
    Ok(out.text)
}

/// A string that refuses to grow past `max` bytes.
struct Capped {
    text: String,
    max: usize,
}

impl std::fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.text.len() + s.len() > self.max {
            return Err(std::fmt::Error);
        }
        self.text.push_str(s);
        Ok(())
    }
}

/// Jinja2: anything with a length and items is a sequence, strings and dicts included.
pub(super) fn is_sequence(value: Value) -> bool {
    use minijinja::value::ValueKind as K;
    match value.kind() {
        K::String | K::Seq | K::Map | K::Bytes => true,
        K::Iterable => value.len().is_some(),
        _ => false,
    }
}

/// minijinja-contrib's `truncate`, with `length` and `leeway` clamped to sizes no text
/// reaches: contrib adds the two unchecked, which wraps around (or panics) near `usize::MAX`.
pub(super) fn truncate(
    state: &mut State<'_, '_>,
    value: &Value,
    kwargs: Kwargs,
) -> std::result::Result<Value, minijinja::Error> {
    const LONGEST: usize = usize::MAX / 4;
    let mut clamped = Vec::new();
    for key in kwargs.args() {
        let mut given: Value = kwargs.peek(key)?;
        if matches!(key, "length" | "leeway")
            && usize::try_from(given.clone()).is_ok_and(|n| n > LONGEST)
        {
            given = Value::from(LONGEST);
        }
        clamped.push((key.to_string(), given));
    }
    minijinja_contrib::filters::truncate(state, value, Kwargs::from_iter(clamped))
}
