//! Comparing two documents as minijinja compares values, at any depth and without
//! recursion: `{{ item == item }}` on a document nested thousands of levels deep is true, where
//! the engine's own comparison would stop at the nesting limit.

use std::cmp::Ordering;

use minijinja::value::ValueKind;

use crate::context::LazyJson;
use crate::doc::{DocRef, View};

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
