//! Document nodes as template values: scalars become plain values, containers stay lazy
//! objects that convert their members only when asked ([`LazyJson`]), and two documents
//! compare as minijinja compares values, at any depth and without recursion
//! ([`compare_docs`]): `{{ item == item }}` on a document nested thousands of levels deep is
//! true, where the engine's own comparison would stop at the nesting limit.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use minijinja::value::{DynObject, Enumerator, Object, ObjectRepr, Value, ValueKind};

use crate::doc::{DocRef, Number, View};
use crate::limits::MAX_DEPTH;

/// A container node of a document, as a template value.
#[derive(Debug)]
pub struct LazyJson {
    doc: DocRef,
    depth: usize,
}

impl LazyJson {
    /// The template value of a document node: scalars become plain values, containers stay
    /// lazy objects that convert their members only when asked.
    pub fn value(doc: DocRef, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::from(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("JSON nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        match doc.view() {
            View::Null => Value::from(()),
            View::Bool(b) => Value::from(b),
            View::Number(Number::Int(i)) => Value::from(i),
            View::Number(Number::BigInt(i)) => Value::from(i),
            View::Number(Number::Float(f)) => Value::from(f),
            View::String(s) => Value::from(s.as_ref()),
            View::Array(_) | View::Object(_) => Value::from_object(LazyJson { doc, depth }),
        }
    }

    pub fn doc(&self) -> &DocRef {
        &self.doc
    }

    fn len(&self) -> usize {
        match self.doc.view() {
            View::Array(n) | View::Object(n) => n,
            _ => 0,
        }
    }

    fn is_array(&self) -> bool {
        matches!(self.doc.view(), View::Array(_))
    }
}

impl Object for LazyJson {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        if self.is_array() {
            ObjectRepr::Seq
        } else {
            ObjectRepr::Map
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        crate::interrupt::poll();
        let child = if self.is_array() {
            self.doc.at(usize::try_from(key.as_i64()?).ok()?)
        } else {
            self.doc.get(key.as_str()?)
        };
        child.map(|doc| LazyJson::value(doc, self.depth + 1))
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        crate::interrupt::poll();
        if self.is_array() {
            return None;
        }
        self.doc
            .get(key)
            .map(|doc| LazyJson::value(doc, self.depth + 1))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        if self.is_array() {
            Enumerator::Seq(self.len())
        } else {
            Enumerator::Values(self.doc.keys().into_iter().map(Value::from).collect())
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.len())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.len() > 0
    }

    /// Python's `repr()`, at any depth: minijinja turns a failing `render` into a panic.
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        crate::doctext::write_doc_repr(&self.doc, &mut text);
        f.write_str(&text)
    }

    /// Two documents compare as minijinja compares their values, at any depth (the generic
    /// comparison would stop at the nesting limit and call deep equal documents unequal).
    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<LazyJson>()?;
        Some(compare_docs(&self.doc, &other.doc))
    }
}

/// How one pair of nodes compares: decided, or two containers to walk.
enum Step {
    Decided(Ordering),
    Walk(Pair),
}

/// Two containers of the same kind being compared member by member.
struct Pair {
    a: DocRef,
    b: DocRef,
    keys: Option<(Vec<String>, Vec<String>)>,
    len: (usize, usize),
    next: usize,
}

fn container_kind(view: &View<'_>) -> Option<ValueKind> {
    match view {
        View::Array(_) => Some(ValueKind::Seq),
        View::Object(_) => Some(ValueKind::Map),
        _ => None,
    }
}

fn step(a: &DocRef, b: &DocRef) -> Step {
    let (va, vb) = (a.view(), b.view());
    match (&va, &vb) {
        (View::Array(la), View::Array(lb)) => Step::Walk(Pair {
            a: a.clone(),
            b: b.clone(),
            keys: None,
            len: (*la, *lb),
            next: 0,
        }),
        (View::Object(_), View::Object(_)) => {
            let (ka, kb) = (a.keys(), b.keys());
            Step::Walk(Pair {
                a: a.clone(),
                b: b.clone(),
                len: (ka.len(), kb.len()),
                keys: Some((ka, kb)),
                next: 0,
            })
        }
        _ => Step::Decided(match (container_kind(&va), container_kind(&vb)) {
            (None, None) => LazyJson::value(a.clone(), 0).cmp(&LazyJson::value(b.clone(), 0)),
            (ka, kb) => {
                let kind = |k: Option<ValueKind>, d: &DocRef| {
                    k.unwrap_or_else(|| LazyJson::value(d.clone(), 0).kind())
                };
                kind(ka, a).cmp(&kind(kb, b))
            }
        }),
    }
}

/// Compares two documents as minijinja compares values (kinds first, numbers by value,
/// sequences element by element, maps pair by pair in their order), with a stack of its own.
pub fn compare_docs(a: &DocRef, b: &DocRef) -> Ordering {
    let mut stack: Vec<Pair> = Vec::new();
    let mut next = Some((a.clone(), b.clone()));
    let mut visited = 0usize;
    loop {
        if let Some((a, b)) = next.take() {
            visited += 1;
            if visited.is_multiple_of(4096) {
                crate::interrupt::poll();
            }
            match step(&a, &b) {
                Step::Decided(Ordering::Equal) => {}
                Step::Decided(decided) => return decided,
                Step::Walk(pair) => stack.push(pair),
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ordering::Equal;
        };
        if top.next >= top.len.0.min(top.len.1) {
            let decided = top.len.0.cmp(&top.len.1);
            stack.pop();
            if decided != Ordering::Equal {
                return decided;
            }
            continue;
        }
        let i = top.next;
        top.next += 1;
        let children = match &top.keys {
            Some((ka, kb)) => {
                let keys = ka[i].cmp(&kb[i]);
                if keys != Ordering::Equal {
                    return keys;
                }
                (top.a.get(&ka[i]), top.b.get(&kb[i]))
            }
            None => (top.a.at(i), top.b.at(i)),
        };
        match children {
            (Some(x), Some(y)) => next = Some((x, y)),
            (x, y) => {
                let decided = x.is_some().cmp(&y.is_some());
                if decided != Ordering::Equal {
                    return decided;
                }
            }
        }
    }
}
