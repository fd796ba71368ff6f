//! How deep a value nests, measured only where it could matter.
//!
//! PostgreSQL reads `jsonb` text back (`COPY … FROM`, so `pg_restore`) with a parser that
//! recurses once per level and stops at `max_stack_depth`: at its default (2 MB) objects
//! about 13,000 levels deep are the end. Values are built here without that parser (pure
//! paths copy stored values whole, blocks nest, each call can wrap the last one's value), so
//! without a limit of its own the extension would store values that `pg_dump` writes out and
//! `pg_restore` then refuses, losing the whole table.

use noetl_vars_core::output::OutValue;
use pgrx::pg_sys;

use super::{build, JsonbNode, PgJsonb, Repr};

/// The deepest value stored: every write path refuses more (54001).
pub const MAX_STORED_DEPTH: usize = 10_000;

/// An upper bound of how deep `out` nests (a scalar 0, `[1]` 1): exact for what the core
/// built; a `jsonb` container counts a level for each 8 of its bytes (every level takes its
/// entry in the parent and its own header, 4 bytes each).
fn depth_bound(out: &OutValue) -> usize {
    // Most values a step writes are scalars or stored documents: no list of pending nodes
    // (a heap allocation per value written) for those.
    if !matches!(out, OutValue::Array(_) | OutValue::Object(_)) {
        return leaf_bound(out, 0);
    }
    let mut deepest = 0;
    let mut pending = vec![(out, 0usize)];
    while let Some((node, depth)) = pending.pop() {
        let here = match node {
            OutValue::Array(items) => {
                pending.extend(items.iter().map(|item| (item, depth + 1)));
                depth + 1
            }
            OutValue::Object(fields) => {
                pending.extend(fields.iter().map(|(_, v)| (v, depth + 1)));
                depth + 1
            }
            leaf => leaf_bound(leaf, depth),
        };
        deepest = deepest.max(here);
    }
    deepest
}

/// The bound of a value that is neither an array nor an object, at `depth`.
fn leaf_bound(leaf: &OutValue, depth: usize) -> usize {
    match leaf {
        OutValue::Doc(doc) => match doc.as_any().downcast_ref::<JsonbNode>() {
            Some(JsonbNode {
                repr: Repr::Container { len, .. },
                ..
            }) => depth + 1 + (*len).max(0) as usize / 8,
            Some(_) => depth,
            // Another kind of document: no bound without walking it.
            None => usize::MAX,
        },
        _ => depth,
    }
}

/// How deep a `jsonb` datum nests, walked with PostgreSQL's iterator (no recursion); stops
/// counting past `limit`.
pub fn depth(value: &PgJsonb, limit: usize) -> usize {
    use pg_sys::JsonbIteratorToken as T;
    let (mut depth, mut deepest) = (0usize, 0usize);
    // SAFETY: a PgJsonb always holds a detoasted jsonb; the iterator reads its root container
    // and frees each level's state as it leaves it.
    unsafe {
        let mut it = pg_sys::JsonbIteratorInit(&raw mut (*value.0).root);
        let mut v = super::null_value();
        let mut n = 0u32;
        loop {
            match pg_sys::JsonbIteratorNext(&mut it, &mut v, false) {
                T::WJB_DONE => break,
                T::WJB_BEGIN_ARRAY | T::WJB_BEGIN_OBJECT => {
                    depth += 1;
                    deepest = deepest.max(depth);
                    if deepest > limit {
                        break;
                    }
                }
                T::WJB_END_ARRAY | T::WJB_END_OBJECT => depth = depth.saturating_sub(1),
                _ => {}
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(4096) {
                pgrx::check_for_interrupts!();
            }
        }
    }
    // A scalar is stored as a one-element pseudo-array.
    // SAFETY: as above.
    let scalar = unsafe { (*value.0).root.header & super::JB_FSCALAR != 0 };
    if scalar {
        0
    } else {
        deepest
    }
}

/// The depth of `out` when it is deeper than `limit`: measured only when the bound says it
/// might be.
pub fn depth_beyond(out: &OutValue, limit: usize) -> Option<usize> {
    if depth_bound(out) <= limit {
        return None;
    }
    let depth = depth(&build(out), limit);
    (depth > limit).then_some(depth)
}

/// The same for a datum.
pub fn stored_depth_beyond(value: &PgJsonb, limit: usize) -> Option<usize> {
    // Each level takes at least 8 bytes (see depth_bound).
    if value.size() / 8 <= limit {
        return None;
    }
    let depth = depth(value, limit);
    (depth > limit).then_some(depth)
}
