//! The template environment: minijinja set up to behave like NoETL's Jinja2, a bounded cache of
//! compiled templates per process, and what each template reads.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use lru::LruCache;
use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use crate::error::{Error, ErrorKind, Result};
use crate::path::{self, Path};
use crate::pyfmt;

/// Limits for one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// minijinja fuel per template (instructions plus bytes produced); `None` is unlimited.
    pub fuel: Option<u64>,
    /// How many compiled templates a process keeps.
    pub cache_size: usize,
    /// The largest text a template may render, in bytes.
    pub max_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            fuel: Some(DEFAULT_FUEL),
            cache_size: DEFAULT_CACHE_SIZE,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }
}

pub const DEFAULT_FUEL: u64 = 1_000_000;
pub const DEFAULT_CACHE_SIZE: usize = 1024;
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;

/// Whether a string is a template at all (rule 3: otherwise it is stored unchanged).
pub fn has_template_syntax(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// How a template string is evaluated.
#[derive(Debug)]
pub enum Form {
    /// Exactly `{{ path }}`: resolved against the documents, falling back to `expression`.
    Path(Path),
    /// Exactly one `{{ expression }}`: its value, with its own JSON type.
    Expression,
    /// Anything else: rendered to text.
    Text,
}

/// The variables a template reads, as far as can be told without running it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reads {
    /// `vars.X`
    pub vars: BTreeSet<String>,
    /// Bare names that may be variables (`{{ counter }}` means `vars.counter` when it exists).
    pub names: BTreeSet<String>,
    /// `vars` used as a whole: `vars[name]`, `vars | length`, `for k in vars`.
    pub all_vars: bool,
}

/// One template string, compiled once per process.
#[derive(Debug)]
pub struct Compiled {
    /// The string as written in the vars block.
    pub source: String,
    pub form: Form,
    pub reads: Reads,
    /// The name of the compiled template in the environment, or the syntax error.
    body: std::result::Result<String, minijinja::Error>,
    /// Where the compiled text starts in `source` (it is trimmed for `Expression`).
    offset: usize,
    /// The text minijinja compiled (trimmed, `%`-formatting rewritten): error spans refer to it.
    compiled: String,
    /// What was trimmed off the end, re-added when an `Expression` turns out to be text.
    suffix: String,
}

struct Engine {
    env: Arc<Environment<'static>>,
    limits: Limits,
    cache: LruCache<String, Arc<Compiled>>,
    /// Templates evicted from the cache. Each leaves the environment at a later compile once
    /// nothing else holds it: a block keeps every template it planned until it has run them
    /// all, however small the cache.
    evicted: Vec<Arc<Compiled>>,
    next_id: u64,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    static OUTPUT: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// What the formatter does with `{{ … }}` output in the render that is running.
enum Frame {
    Text,
    Capture(Vec<Value>),
}

fn build_environment(limits: &Limits) -> Environment<'static> {
    let mut env = Environment::new();
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    // Undefined is an error when printed or used, but a conditional may test it (rule 4).
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // Debug mode would copy template sources and the values of variables into every error;
    // error messages must never echo a variable's value.
    env.set_debug(false);
    env.set_fuel(limits.fuel);
    env.set_formatter(|out, _state, value| {
        crate::interrupt::poll();
        let captured = OUTPUT.with(|frames| {
            if let Some(Frame::Capture(values)) = frames.borrow_mut().last_mut() {
                values.push(value.clone());
                true
            } else {
                false
            }
        });
        if captured {
            return Ok(());
        }
        let text = pyfmt::py_str(value).map_err(to_minijinja)?;
        out.write_str(&text)
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write failed"))
    });
    env.add_filter("tojson", |value: Value, kwargs: Kwargs| {
        let indent: Option<usize> = kwargs.get("indent")?;
        kwargs.assert_all_used()?;
        pyfmt::tojson(&value, indent)
            .map(Value::from_safe_string)
            .map_err(to_minijinja)
    });
    env.add_filter("string", |value: Value| {
        pyfmt::py_str(&value).map_err(to_minijinja)
    });
    env.add_filter("int", jinja2_int);
    env.add_filter("float", jinja2_float);
    // Jinja2: anything with a length and items is a sequence, strings and dicts included.
    env.add_test("sequence", |value: Value| {
        use minijinja::value::ValueKind as K;
        match value.kind() {
            K::String | K::Seq | K::Map | K::Bytes => true,
            K::Iterable => value.len().is_some(),
            _ => false,
        }
    });
    env.add_filter(
        "b64encode",
        |value: Value| -> std::result::Result<String, minijinja::Error> {
            let text = pyfmt::py_str(&value).map_err(to_minijinja)?;
            Ok(base64::engine::general_purpose::STANDARD.encode(text.as_bytes()))
        },
    );
    env.add_filter(
        "b64decode",
        |value: String| -> std::result::Result<String, minijinja::Error> {
            let cleaned: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .or_else(|_| {
                    base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned.as_bytes())
                })
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(cleaned.as_bytes()))
                .or_else(|_| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cleaned.as_bytes())
                })
                .map_err(|e| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("b64decode: not base64 ({e})"),
                    )
                })?;
            String::from_utf8(bytes).map_err(|_| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    "b64decode: the decoded bytes are not UTF-8 text",
                )
            })
        },
    );
    // Jinja2's range, with the same 100,000-item limit as minijinja's, but polling the host so
    // that loops can be cancelled.
    env.add_function("range", range);
    env.add_function("now", || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    });
    env
}

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
fn jinja2_int(
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
fn jinja2_float(
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

/// Python rejects integer literals with leading zeros (`{{ 007 }}` is a syntax error in
/// Jinja2); minijinja reads them as decimal. Finds the first one, if any.
fn zero_padded_integer(source: &str) -> Option<minijinja::Error> {
    use minijinja::machinery::{tokenize, Token};
    for token in tokenize(source, false, Default::default()) {
        // The tokenizer repeats an error forever; the compiler reports it.
        let Ok((token, span)) = token else {
            return None;
        };
        if !matches!(token, Token::Int(_) | Token::Int128(_)) {
            continue;
        }
        let text = source.get(span.start_offset as usize..span.end_offset as usize)?;
        if text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) {
            return Some(minijinja::Error::new(
                minijinja::ErrorKind::SyntaxError,
                format!("leading zeros in an integer literal ({text}) are not allowed"),
            ));
        }
    }
    None
}

/// Python's `'%s rows' % count` (`%`-formatting of a string literal), which minijinja's `%`
/// does not do: rewritten to minijinja's printf-style `'%s rows' | format(count)` before
/// compiling. A parenthesised tuple on the right gives the arguments (`'%s-%s' % (a, b)`).
/// Returns `None` when there is nothing to rewrite.
fn rewrite_percent_format(source: &str) -> Option<String> {
    use minijinja::machinery::{tokenize, Span, Token};
    let mut text = source.to_string();
    let mut changed = false;
    // Each pass rewrites the first occurrence; a template has few.
    for _ in 0..64 {
        let tokens: Vec<(Token<'_>, Span)> = tokenize(&text, false, Default::default())
            .collect::<std::result::Result<_, _>>()
            .ok()?;
        let start = |t: &(Token<'_>, Span)| t.1.start_offset as usize;
        let end = |t: &(Token<'_>, Span)| t.1.end_offset as usize;
        // Index of the token closing the bracket opened at `i`.
        let closing = |i: usize| -> Option<usize> {
            let mut depth = 0usize;
            for (k, (token, _)) in tokens.iter().enumerate().skip(i) {
                match token {
                    Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => depth += 1,
                    Token::ParenClose | Token::BracketClose | Token::BraceClose => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(k);
                        }
                    }
                    Token::VariableEnd | Token::BlockEnd => return None,
                    _ => {}
                }
            }
            None
        };
        let found = tokens.windows(2).position(|w| {
            matches!(w[0].0, Token::Str(_) | Token::String(_)) && matches!(w[1].0, Token::Mod)
        });
        let Some(i) = found else { break };
        let percent = i + 1;
        let mut j = percent + 1;
        while matches!(
            tokens.get(j).map(|t| &t.0),
            Some(Token::Minus | Token::Plus)
        ) {
            j += 1;
        }
        let first = j;
        let mut last = match tokens.get(j)?.0 {
            Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => closing(j)?,
            Token::Ident(_)
            | Token::Str(_)
            | Token::String(_)
            | Token::Int(_)
            | Token::Int128(_)
            | Token::Float(_) => j,
            _ => return None,
        };
        let tuple = matches!(tokens[first].0, Token::ParenOpen)
            && tokens[first + 1..last]
                .iter()
                .scan(0i32, |depth, (t, _)| {
                    match t {
                        Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => *depth += 1,
                        Token::ParenClose | Token::BracketClose | Token::BraceClose => *depth -= 1,
                        _ => {}
                    }
                    Some(*depth == 0 && matches!(t, Token::Comma))
                })
                .any(|top_level_comma| top_level_comma);
        let mut postfix = false;
        loop {
            match tokens.get(last + 1).map(|t| &t.0) {
                Some(Token::Dot)
                    if matches!(tokens.get(last + 2).map(|t| &t.0), Some(Token::Ident(_))) =>
                {
                    last += 2
                }
                Some(Token::BracketOpen | Token::ParenOpen) => last = closing(last + 1)?,
                Some(Token::Pipe)
                    if matches!(tokens.get(last + 2).map(|t| &t.0), Some(Token::Ident(_))) =>
                {
                    last += 2;
                    if matches!(tokens.get(last + 1).map(|t| &t.0), Some(Token::ParenOpen)) {
                        last = closing(last + 1)?;
                    }
                }
                _ => break,
            }
            postfix = true;
        }
        let args = if tuple && !postfix {
            text[end(&tokens[first])..start(&tokens[last])].to_string()
        } else {
            text[start(&tokens[j.min(first)])..end(&tokens[last])].to_string()
        };
        let args = if first > percent + 1 {
            // Keep a leading sign: `'%d' % -x`.
            format!(
                "{}{args}",
                &text[start(&tokens[percent + 1])..start(&tokens[first])]
            )
        } else {
            args
        };
        let rewritten = format!(
            "{}| format({args}){}",
            &text[..start(&tokens[percent])],
            &text[end(&tokens[last])..]
        );
        text = rewritten;
        changed = true;
    }
    changed.then_some(text)
}

/// The most items `range()` produces, as minijinja's own `range` allows.
const MAX_RANGE: i128 = 100_000;

fn range(
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

fn with_engine<R>(limits: &Limits, f: impl FnOnce(&mut Engine) -> R) -> R {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let engine = slot.get_or_insert_with(|| Engine {
            env: Arc::new(build_environment(limits)),
            limits: *limits,
            cache: LruCache::new(
                NonZeroUsize::new(limits.cache_size.max(1)).unwrap_or(NonZeroUsize::MIN),
            ),
            evicted: Vec::new(),
            next_id: 0,
        });
        if engine.limits.fuel != limits.fuel {
            Arc::make_mut(&mut engine.env).set_fuel(limits.fuel);
        }
        if engine.limits.cache_size != limits.cache_size {
            let size = NonZeroUsize::new(limits.cache_size.max(1)).unwrap_or(NonZeroUsize::MIN);
            while engine.cache.len() > size.get() {
                if let Some((_, old)) = engine.cache.pop_lru() {
                    engine.evicted.push(old);
                }
            }
            engine.cache.resize(size);
        }
        engine.limits = *limits;
        f(engine)
    })
}

/// The compiled form of a template string, from the cache when it was seen before.
pub fn compile(source: &str, limits: &Limits) -> Arc<Compiled> {
    with_engine(limits, |engine| {
        if let Some(hit) = engine.cache.get(source) {
            return hit.clone();
        }
        if engine.evicted.iter().any(|c| Arc::strong_count(c) == 1) {
            let env = Arc::make_mut(&mut engine.env);
            engine.evicted.retain(|c| {
                if Arc::strong_count(c) > 1 {
                    return true;
                }
                if let Ok(name) = &c.body {
                    env.remove_template(name);
                }
                false
            });
        }
        let compiled = Arc::new(compile_new(engine, source));
        if let Some((_, old)) = engine.cache.push(source.to_string(), compiled.clone()) {
            if !Arc::ptr_eq(&old, &compiled) {
                engine.evicted.push(old);
            }
        }
        compiled
    })
}

fn compile_new(engine: &mut Engine, original: &str) -> Compiled {
    // Jinja2 reads every line ending of a template as "\n".
    let normalized;
    let source = if original.contains('\r') {
        normalized = original.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        original
    };
    let trimmed = source.trim();
    let expression_like = path::expression_tag(trimmed).is_some();
    let (text, offset, suffix) = if expression_like {
        let offset = source.len() - source.trim_start().len();
        let suffix = source[offset + trimmed.len()..].to_string();
        (trimmed, offset, suffix)
    } else {
        (source, 0, String::new())
    };
    engine.next_id += 1;
    let name = format!("noetl_vars#{}", engine.next_id);
    let env = Arc::make_mut(&mut engine.env);
    let compiled_text = rewrite_percent_format(text).unwrap_or_else(|| text.to_string());
    let body = match zero_padded_integer(text) {
        Some(err) => Err(err),
        None => env
            .add_template_owned(name.clone(), compiled_text.clone())
            .map(|()| name.clone()),
    };
    let form = match (expression_like, path::parse(trimmed)) {
        (true, Some(p)) => Form::Path(p),
        (true, None) => Form::Expression,
        _ => Form::Text,
    };
    let reads = match (&form, &body) {
        (Form::Path(p), _) => {
            let (var, name, all) = p.reads();
            Reads {
                vars: var.into_iter().collect(),
                names: name.into_iter().collect(),
                all_vars: all,
            }
        }
        (_, Ok(name)) => match env.get_template(name) {
            Ok(t) => analyse(t.undeclared_variables(true), &compiled_text),
            Err(_) => Reads::default(),
        },
        (_, Err(_)) => Reads::default(),
    };
    Compiled {
        source: source.to_string(),
        form,
        reads,
        body,
        offset,
        compiled: compiled_text,
        suffix,
    }
}

fn analyse(undeclared: std::collections::HashSet<String>, text: &str) -> Reads {
    let mut reads = Reads::default();
    for item in undeclared {
        let mut parts = item.split('.');
        let root = parts.next().unwrap_or_default();
        if root == "vars" {
            match parts.next() {
                // `vars.get('x')` reads `x`; minijinja reports it as the attribute `get`.
                Some(method @ ("get" | "items" | "keys" | "values")) if calls(text, method) => {
                    let constant = constant_get_arguments(text);
                    if method == "get" && !constant.is_empty() {
                        reads.vars.extend(constant);
                    } else {
                        reads.all_vars = true;
                    }
                }
                Some(name) => {
                    reads.vars.insert(name.to_string());
                }
                None => reads.all_vars = true,
            }
        } else if !crate::context::RESERVED.contains(&root) {
            reads.names.insert(root.to_string());
        }
    }
    reads
}

/// The parts of a template between `{{ }}` or `{% %}`, where expressions are.
fn tags(text: &str) -> impl Iterator<Item = &str> {
    text.split("{{")
        .flat_map(|s| s.split("{%"))
        .skip(1)
        .map(|s| s.split(['}', '%']).next().unwrap_or_default())
}

/// Each place an expression continues with `vars.<method>(`, as the text after the `(`.
fn method_calls<'a>(text: &'a str, method: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    tags(text).flat_map(move |tag| {
        tag.match_indices("vars").filter_map(move |(at, _)| {
            let before = tag[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                return None;
            }
            let rest = tag[at + 4..].trim_start().strip_prefix('.')?;
            let rest = rest.trim_start().strip_prefix(method)?;
            rest.trim_start().strip_prefix('(')
        })
    })
}

fn calls(text: &str, method: &str) -> bool {
    method_calls(text, method).next().is_some()
}

/// The names of `vars.get('name', …)` calls whose first argument is a string literal; empty
/// if any `vars.get` call has another first argument (the name is only known at run time).
fn constant_get_arguments(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for args in method_calls(text, "get") {
        let args = args.trim_start();
        let literal = args
            .chars()
            .next()
            .filter(|q| *q == '\'' || *q == '"')
            .and_then(|q| {
                let body = &args[1..];
                let end = body.find(q)?;
                let name = &body[..end];
                let after = body[end + 1..].trim_start();
                (!name.contains('\\') && (after.starts_with(',') || after.starts_with(')')))
                    .then(|| name.to_string())
            });
        match literal {
            Some(name) => names.push(name),
            None => return Vec::new(),
        }
    }
    names
}

/// What running a template gave.
pub enum Rendered {
    /// The single `{{ expression }}`'s value.
    Value(Value),
    Text(String),
}

impl Compiled {
    /// Runs the template with `ctx`. `Expression` templates yield their value unless they
    /// turn out to print more than one thing, in which case they are text after all.
    pub fn run(&self, ctx: Value, limits: &Limits) -> Result<Rendered> {
        let name = self.body.as_ref().map_err(|e| self.error(e))?;
        let env = with_engine(limits, |engine| engine.env.clone());
        let template = env.get_template(name).map_err(|e| self.error(&e))?;
        match self.form {
            Form::Text => {
                let text = self.render(&template, ctx, limits)?;
                Ok(Rendered::Text(text))
            }
            Form::Path(_) | Form::Expression => {
                OUTPUT.with(|f| f.borrow_mut().push(Frame::Capture(Vec::new())));
                let result = template.render(ctx.clone());
                let frame = OUTPUT.with(|f| f.borrow_mut().pop());
                let text = result.map_err(|e| self.error(&e))?;
                match frame {
                    Some(Frame::Capture(mut values)) if values.len() == 1 && text.is_empty() => {
                        Ok(Rendered::Value(values.remove(0)))
                    }
                    _ => {
                        let mut text = self.render(&template, ctx, limits)?;
                        let suffix = self.suffix.strip_suffix('\n').unwrap_or(&self.suffix);
                        text.insert_str(0, &self.source[..self.offset]);
                        text.push_str(suffix);
                        Ok(Rendered::Text(text))
                    }
                }
            }
        }
    }

    fn render(
        &self,
        template: &minijinja::Template<'_, '_>,
        ctx: Value,
        limits: &Limits,
    ) -> Result<String> {
        OUTPUT.with(|f| f.borrow_mut().push(Frame::Text));
        let result = template.render(ctx);
        OUTPUT.with(|f| f.borrow_mut().pop());
        let text = result.map_err(|e| self.error(&e))?;
        if text.len() > limits.max_value_bytes {
            return Err(Error::new(
                ErrorKind::ValueTooLarge,
                format!(
                    "rendered text is {} bytes, more than noetl_vars.max_value_bytes ({})",
                    text.len(),
                    limits.max_value_bytes
                ),
            ));
        }
        Ok(text)
    }

    /// An engine error, with the template shown and the failing spot marked.
    pub fn error(&self, err: &minijinja::Error) -> Error {
        let mut error = eval_error_ref(err);
        error.detail = Some(snippet(&self.compiled, err.range(), err.line()));
        error
    }
}

/// A marked excerpt of `source`: where the error is, the line with it, and a caret line
/// under the failing spot. The excerpt starts on a line of its own so that the caret lines up
/// whatever the client prints before the first line (psql prints `DETAIL:  `).
pub fn snippet(source: &str, range: Option<std::ops::Range<usize>>, line: Option<usize>) -> String {
    const WIDTH: usize = 200;
    // Spans come from the engine; never trust them to fall on character boundaries.
    let floor = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let range = range.map(|r| floor(r.start)..floor(r.end.max(r.start)));
    let Some(range) = range else {
        let line_no = line.unwrap_or(1).max(1);
        let text = source.lines().nth(line_no - 1).unwrap_or(source);
        return format!("in the template:\n{}", shorten(text, WIDTH));
    };
    let line_start = source[..range.start]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let line_end = source[range.start..]
        .find('\n')
        .map(|i| range.start + i)
        .unwrap_or(source.len());
    let line_text = &source[line_start..line_end];
    let line_no = source[..line_start].matches('\n').count() + 1;
    let col = source[line_start..range.start].chars().count();
    let place = if source.contains('\n') {
        format!("at line {line_no}, column {} of the template:", col + 1)
    } else {
        format!("at column {} of the template:", col + 1)
    };
    if col > WIDTH {
        return format!("{place}\n{}", shorten(line_text, WIDTH));
    }
    let end = range.end.min(line_end).max(range.start);
    let width = source[range.start..end].chars().count().max(1);
    format!(
        "{place}\n{}\n{}{}",
        shorten(line_text, WIDTH.max(col + width)),
        " ".repeat(col),
        "^".repeat(width.min(WIDTH))
    )
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// A core error carried through minijinja (from our filters and formatter).
fn to_minijinja(err: Error) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, err.message.clone())
        .with_source(err)
}

/// Maps an engine error onto the core's kinds.
pub fn eval_error(err: minijinja::Error) -> Error {
    eval_error_ref(&err)
}

fn eval_error_ref(err: &minijinja::Error) -> Error {
    use minijinja::ErrorKind as K;
    if let Some(inner) = std::error::Error::source(err).and_then(|s| s.downcast_ref::<Error>()) {
        return Error::new(inner.kind, inner.message.clone());
    }
    let detail = err.detail().map(str::to_string);
    let kind = match err.kind() {
        K::SyntaxError | K::BadEscape | K::InvalidDelimiter => ErrorKind::TemplateSyntax,
        K::UndefinedError => ErrorKind::Undefined,
        K::UnknownFilter | K::UnknownTest | K::UnknownFunction | K::UnknownMethod => {
            ErrorKind::UnknownFunction
        }
        K::OutOfFuel => ErrorKind::TooComplex,
        _ => match detail.as_deref() {
            // SemiStrict lets `vars.missing` through until it is used: `+` on it is still a
            // missing name, not a type error.
            Some(d) if d.contains("undefined") => ErrorKind::Undefined,
            Some(d)
                if d.contains("recursion limit")
                    || d.contains("too large")
                    || d.contains("too many elements")
                    || d.contains("nests deeper") =>
            {
                ErrorKind::TooComplex
            }
            _ => ErrorKind::Evaluation,
        },
    };
    let mut message = err.kind().to_string();
    if let Some(d) = &detail {
        message.push_str(": ");
        message.push_str(d);
    }
    let mut error = Error::new(kind, message);
    error.hint = match kind {
        ErrorKind::Undefined => Some(
            "use | default(…), \"is defined\" or a conditional to handle a missing name".into(),
        ),
        ErrorKind::TooComplex if err.kind() == K::OutOfFuel => {
            Some("raise noetl_vars.template_fuel if this template really needs more work".into())
        }
        _ => None,
    };
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn detects_template_syntax() {
        assert!(has_template_syntax("{{ x }}"));
        assert!(has_template_syntax("a {% if x %}b{% endif %}"));
        assert!(has_template_syntax("{# note #}"));
        assert!(!has_template_syntax("plain { text }"));
    }

    #[test]
    fn classifies_paths_expressions_and_text() {
        assert!(matches!(
            compile("{{ result.id }}", &limits()).form,
            Form::Path(_)
        ));
        assert!(matches!(
            compile("  {{ a + 1 }} ", &limits()).form,
            Form::Expression
        ));
        assert!(matches!(compile("x {{ a }}", &limits()).form, Form::Text));
    }

    #[test]
    fn compiles_each_distinct_template_once() {
        let a = compile("{{ cache_probe + 1 }}", &limits());
        let b = compile("{{ cache_probe + 1 }}", &limits());
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn analysis_finds_vars_bare_names_and_whole_vars_use() {
        let c = compile(
            "{{ vars.a + vars.b.c + counter + result.x }}{% set y = 1 %}{{ y }}",
            &limits(),
        );
        assert_eq!(
            c.reads.vars,
            ["a", "b"].iter().map(|s| s.to_string()).collect()
        );
        assert_eq!(
            c.reads.names,
            ["counter"].iter().map(|s| s.to_string()).collect()
        );
        assert!(!c.reads.all_vars);
        assert!(compile("{{ vars | length }}", &limits()).reads.all_vars);
    }

    #[test]
    fn analysis_reads_the_names_of_constant_vars_get_calls() {
        let c = compile("{{ vars.get('a') ~ vars.get(\"b\", 0) }}", &limits());
        assert_eq!(
            c.reads.vars,
            ["a", "b"].iter().map(|s| s.to_string()).collect()
        );
        assert!(!c.reads.all_vars);
        // A name known only at run time, or a whole-vars method, reads every variable.
        for source in ["{{ vars.get(result.key) }}", "{{ vars.items() | list }}"] {
            let c = compile(source, &limits());
            assert!(c.reads.all_vars, "{source}");
            assert!(!c.reads.vars.contains("get") && !c.reads.vars.contains("items"));
        }
        // A variable that is really called `get` is still read as one.
        assert!(compile("{{ vars.get }}", &limits())
            .reads
            .vars
            .contains("get"));
    }

    #[test]
    fn a_syntax_error_is_reported_when_run_with_the_spot_marked() {
        let c = compile("{{ 1 + }}", &limits());
        let err = match c.run(Value::from(()), &limits()) {
            Err(e) => e,
            Ok(_) => panic!("expected a syntax error"),
        };
        assert_eq!(err.kind, ErrorKind::TemplateSyntax);
        let detail = err.detail.unwrap();
        assert!(
            detail.starts_with("at column 8 of the template:\n{{ 1 + }}\n       ^^"),
            "{detail}"
        );
        assert!(detail.contains('^'), "{detail}");
    }

    #[test]
    fn small_cache_evicts_without_breaking_later_renders() {
        let small = Limits {
            cache_size: 2,
            ..Limits::default()
        };
        let first = compile("{{ 1 + 1 }}", &small);
        for i in 0..10 {
            compile(&format!("{{{{ {i} * 2 }}}}"), &small);
        }
        // Still usable: the evicted body is only removed at a later compile, and recompiled.
        let again = compile("{{ 1 + 1 }}", &small);
        match again.run(Value::from(()), &small).unwrap() {
            Rendered::Value(v) => assert_eq!(v, Value::from(2)),
            Rendered::Text(t) => panic!("expected a value, got text {t}"),
        }
        drop(first);
    }

    #[test]
    fn templates_held_by_a_block_survive_a_cache_smaller_than_the_block() {
        let tiny = Limits {
            cache_size: 1,
            ..Limits::default()
        };
        let planned: Vec<_> = (0..5)
            .map(|i| compile(&format!("{{{{ {i} + 100 }}}}"), &tiny))
            .collect();
        compile("{{ 'one more compile, which sweeps the evicted' }}", &tiny);
        for (i, template) in planned.iter().enumerate() {
            match template.run(Value::from(()), &tiny).unwrap() {
                Rendered::Value(v) => assert_eq!(v, Value::from(i as i64 + 100)),
                Rendered::Text(t) => panic!("expected a value, got text {t}"),
            }
        }
        drop(planned);
        // Once nothing holds them, the next compile removes them from the environment.
        compile("{{ 'and another' }}", &tiny);
        let left = with_engine(&tiny, |engine| engine.evicted.len());
        assert!(left <= 1, "{left} evicted templates still kept");
    }

    #[test]
    fn snippet_marks_the_failing_line_of_a_multiline_template() {
        let s = snippet("a\n{{ b + }}\nc", Some(7..8), None);
        assert_eq!(s, "at line 2, column 6 of the template:\n{{ b + }}\n     ^");
    }
}
