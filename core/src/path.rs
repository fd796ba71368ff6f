//! Pure paths: `{{ result.users[0].id }}`, `{{ vars.config }}`, `{{ this['data'] }}`.
//!
//! A template that is nothing but a path stores the node it names exactly as it is in the
//! source document (rule 2 of the contract: digit for digit). Such templates are resolved
//! here, without the template engine; anything this module cannot resolve falls back to the
//! engine, which then produces the same value or the proper error.

use minijinja::value::Value;

use crate::context::{Resolved, Scope};
use crate::doc::{DocRef, View};
use crate::output::OutValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub root: String,
    pub segs: Vec<Seg>,
}

/// Words that are not names in an expression.
const KEYWORDS: [&str; 14] = [
    "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None",
    "null",
];

/// The inside of `{{ … }}` when `text` (already trimmed) is exactly one expression tag.
pub fn expression_tag(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    Some(inner.trim())
}

/// Parses `text` (a whole trimmed template) as `{{ path }}`.
pub fn parse(text: &str) -> Option<Path> {
    let expr = expression_tag(text)?;
    let mut p = Parser {
        s: expr.as_bytes(),
        i: 0,
    };
    let root = p.ident()?;
    if KEYWORDS.contains(&root.as_str()) {
        return None;
    }
    let mut segs = Vec::new();
    loop {
        p.skip_ws();
        match p.peek() {
            None => break,
            Some(b'.') => {
                p.i += 1;
                p.skip_ws();
                segs.push(Seg::Key(p.ident()?));
            }
            Some(b'[') => {
                p.i += 1;
                p.skip_ws();
                let seg = match p.peek()? {
                    b'\'' | b'"' => Seg::Key(p.string()?),
                    _ => Seg::Index(p.integer()?),
                };
                p.skip_ws();
                if p.peek()? != b']' {
                    return None;
                }
                p.i += 1;
                segs.push(seg);
            }
            Some(_) => return None,
        }
    }
    Some(Path { root, segs })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.i;
        match self.peek()? {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.i += 1,
            _ => return None,
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_')
        ) {
            self.i += 1;
        }
        Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn integer(&mut self) -> Option<i64> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()
    }

    /// A quoted key without escapes (anything fancier is left to the engine).
    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.i += 1;
        let start = self.i;
        while self.peek()? != quote {
            if self.peek()? == b'\\' {
                return None;
            }
            self.i += 1;
        }
        let key = std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .to_string();
        self.i += 1;
        Some(key)
    }
}

impl Path {
    /// The variables this path reads: `vars.x` reads `x`, a bare root may be a variable.
    pub fn reads(&self) -> (Option<String>, Option<String>, bool) {
        if self.root == "vars" {
            match self.segs.first() {
                Some(Seg::Key(k)) => (Some(k.clone()), None, false),
                _ => (None, None, true),
            }
        } else {
            (None, Some(self.root.clone()), false)
        }
    }
}

enum Node {
    Doc(DocRef),
    Value(Value),
}

/// Resolves `path` for variable `current`; `None` when any step is missing or is not a plain
/// member or element (the engine then decides).
pub fn resolve(path: &Path, scope: &Scope, current: Option<&str>) -> Option<OutValue> {
    let mut segs = path.segs.iter();
    let mut node = match scope.resolve(&path.root, current)? {
        Resolved::Doc(d) => Node::Doc(d),
        Resolved::Value(v) => Node::Value(v),
        Resolved::Vars => {
            let Seg::Key(name) = segs.next()? else {
                return None;
            };
            Node::Value(scope.vars.lookup(name, current)?)
        }
    };
    for seg in segs {
        node = match node {
            Node::Doc(doc) => Node::Doc(match (seg, doc.view()) {
                (Seg::Key(k), View::Object(_)) => doc.get(k)?,
                (Seg::Index(i), View::Array(len)) => {
                    let i = if *i < 0 {
                        len.checked_sub(i.unsigned_abs() as usize)?
                    } else {
                        *i as usize
                    };
                    doc.at(i)?
                }
                _ => return None,
            }),
            Node::Value(value) => {
                let next = match seg {
                    Seg::Key(k) => value.get_attr(k).ok()?,
                    Seg::Index(i) => value.get_item(&Value::from(*i)).ok()?,
                };
                if next.is_undefined() {
                    return None;
                }
                match next.downcast_object_ref::<crate::context::LazyJson>() {
                    Some(lazy) => Node::Doc(lazy.doc().clone()),
                    None => Node::Value(next),
                }
            }
        };
    }
    match node {
        Node::Doc(doc) => Some(OutValue::Doc(doc)),
        Node::Value(value) => match value.downcast_object_ref::<crate::context::LazyJson>() {
            Some(lazy) => Some(OutValue::Doc(lazy.doc().clone())),
            None => OutValue::from_value(&value).ok(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Option<Path> {
        parse(text)
    }

    #[test]
    fn recognises_member_and_index_paths() {
        assert_eq!(
            p("{{ result.users[0].id }}"),
            Some(Path {
                root: "result".into(),
                segs: vec![
                    Seg::Key("users".into()),
                    Seg::Index(0),
                    Seg::Key("id".into())
                ]
            })
        );
        assert_eq!(
            p("{{this['data']}}"),
            Some(Path {
                root: "this".into(),
                segs: vec![Seg::Key("data".into())]
            })
        );
        assert_eq!(
            p("{{- items[-1] -}}"),
            Some(Path {
                root: "items".into(),
                segs: vec![Seg::Index(-1)]
            })
        );
        assert_eq!(
            p("{{ vars.config }}").unwrap().reads(),
            (Some("config".into()), None, false)
        );
        assert_eq!(
            p("{{ counter }}").unwrap().reads(),
            (None, Some("counter".into()), false)
        );
    }

    #[test]
    fn anything_else_is_not_a_path() {
        for text in [
            "{{ a + 1 }}",
            "{{ a | length }}",
            "{{ a.b() }}",
            "{{ none }}",
            "{{ true }}",
            "{{ 'x' }}",
            "{{ a }} {{ b }}",
            "{{ a.0 }}",
            "{{ a['x\\'y'] }}",
            "plain",
            "{{ a[b] }}",
        ] {
            assert_eq!(p(text), None, "{text}");
        }
    }
}
