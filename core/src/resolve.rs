//! Pure paths resolved against a block's scope, without the template engine: the node a path
//! names, exactly as it is in its document. Anything that cannot be resolved this way falls
//! back to the engine, which then produces the same value or the proper error.

use minijinja::value::Value;

use crate::context::{Resolved, Scope};
use crate::doc::{DocRef, View};
use crate::output::OutValue;
use crate::path::{Path, Seg};

enum Node {
    Doc(DocRef),
    Value(Value),
}

/// A variable's value as a node: its document when it has one.
fn node(found: Resolved) -> Option<Node> {
    match found {
        Resolved::Doc(d) => Some(Node::Doc(d)),
        Resolved::Value(v) => Some(Node::Value(v)),
        Resolved::Vars | Resolved::State(_) => None,
    }
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
            node(scope.vars.lookup_node(name, current)?)?
        }
        Resolved::State(state) => {
            let Seg::Key(name) = segs.next()? else {
                return None;
            };
            node(state.lookup_node(name, current)?)?
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
                match next.downcast_object_ref::<crate::value::LazyJson>() {
                    Some(lazy) => Node::Doc(lazy.doc().clone()),
                    None => Node::Value(next),
                }
            }
        };
    }
    match node {
        Node::Doc(doc) => Some(OutValue::Doc(doc)),
        Node::Value(value) => match value.downcast_object_ref::<crate::value::LazyJson>() {
            Some(lazy) => Some(OutValue::Doc(lazy.doc().clone())),
            None => OutValue::from_value(&value).ok(),
        },
    }
}
