//! Pure paths: `{{ result.users[0].id }}`, `{{ vars.config }}`, `{{ this['data'] }}`.
//!
//! A template that is nothing but a path stores the node it names exactly as it is in the
//! source document (rule 2 of the contract: digit for digit). The template analysis
//! recognises them on the syntax tree; they are resolved here, without the template engine.
//! Anything this module cannot resolve falls back to the engine, which then produces the same
//! value or the proper error.

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
