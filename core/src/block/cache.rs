//! Blocks parsed before, kept per process and keyed by the bytes they were read from.
//!
//! NoETL sends a step's block unchanged to every execution of its playbook, so a backend sees
//! the same bytes again and again. Parsing them again (listing the members, checking each
//! name, looking every template up in the template cache) gives the same entries every time:
//! what a block parses to depends only on its bytes, on the parser and its options (a phase,
//! the scopes a `set:` block can write) and on the limits. So the entries are kept, as a
//! shape: templates (compiled, shared with the template cache), containers, and the places of
//! values stored verbatim. A verbatim value points into the document of the call that parsed
//! it, so on a later call it is read again from that call's document, at the same place.
//!
//! Only blocks that parsed without an error are kept; errors are reported by parsing again.
//! The cache is bounded in blocks ([`MAX_BLOCKS`]), in memory ([`MAX_BYTES`]: a block's bytes
//! and what its shape takes; a block larger than [`MAX_BLOCK_BYTES`] is never kept) and in
//! nesting ([`MAX_KEPT_DEPTH`]). The templates it holds are counted by the template cache:
//! whenever that one lets a template go, this one lets every block go, so that it never keeps
//! a template alive that the template cache has given up.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

use super::{BlockValue, Entry};
use crate::doc::DocRef;
use crate::error::Result;
use crate::limits::Limits;
use crate::template::{self, Compiled};
use crate::ttl::{BlockTtl, TTL_KEY};

/// The most blocks kept per process.
pub const MAX_BLOCKS: usize = 256;
/// The most memory the kept blocks may take per process, counted as their bytes (kept to
/// compare) plus [`NODE_COST`] and the text of each name, key and place they keep.
pub const MAX_BYTES: usize = 2 << 20;
/// What one kept entry or container member is counted as, besides its text: a block of many
/// tiny members takes far more memory kept than its bytes.
pub const NODE_COST: usize = 96;
/// A block larger than this is parsed at every call.
pub const MAX_BLOCK_BYTES: usize = 64 << 10;
/// A block nesting templates deeper than this is parsed at every call (reading it again is
/// recursive).
pub const MAX_KEPT_DEPTH: usize = 32;

/// Which parser read a block, with its options: blocks are kept apart by it.
pub type Parser = u32;

/// How one value of a kept block is produced: [`BlockValue`] without the documents.
enum Shape {
    Verbatim,
    Template(Arc<Compiled>),
    Array(Vec<Shape>),
    Object(Vec<(String, Shape)>),
}

/// One entry of a kept block.
struct KeptEntry {
    name: String,
    /// The member of the block's object the value is read from, when it holds a verbatim value.
    member: Option<String>,
    shape: Shape,
}

struct Kept {
    parser: Parser,
    limits: Limits,
    bytes: Box<[u8]>,
    /// What it is counted as against [`MAX_BYTES`].
    cost: usize,
    entries: Vec<KeptEntry>,
    ttl: BlockTtl,
}

struct Store {
    blocks: LruCache<u64, Kept>,
    bytes: usize,
    /// The template cache's generation the kept blocks were parsed in.
    generation: u64,
}

thread_local! {
    static STORE: RefCell<Option<Store>> = const { RefCell::new(None) };
}

/// The entries and `$ttl` of a block: kept ones when these bytes were parsed before by the
/// same parser with the same limits, else what `parse` gives (kept when it succeeds).
///
/// `bytes` hold the document the block was read from; `root` gives the object whose members
/// the entries are, in order, `$ttl` left out (only called to read verbatim values again).
pub fn parsed(
    parser: Parser,
    bytes: &[u8],
    limits: &Limits,
    root: impl Fn() -> Option<DocRef>,
    parse: impl FnOnce() -> Result<(Vec<Entry>, BlockTtl)>,
) -> Result<(Vec<Entry>, BlockTtl)> {
    if bytes.len() > MAX_BLOCK_BYTES {
        return parse();
    }
    let key = key_of(parser, bytes);
    if let Some(hit) = with_store(limits, |store| {
        let kept = store.blocks.get(&key)?;
        let same = kept.parser == parser && kept.limits == *limits && *kept.bytes == *bytes;
        same.then(|| rebuild(kept, &root))?
    }) {
        return Ok(hit);
    }
    let (entries, ttl) = parse()?;
    if let Some(kept) = keep(parser, bytes, limits, &entries, &ttl, &root) {
        with_store(limits, |store| store.insert(key, kept));
    }
    Ok((entries, ttl))
}

fn key_of(parser: Parser, bytes: &[u8]) -> u64 {
    // A fixed seed: the key is only compared within this process.
    let mut hasher = foldhash::fast::FixedState::with_seed(0x6e6f_6574_6c5f_7661).build_hasher();
    hasher.write_u32(parser);
    hasher.write(bytes);
    hasher.finish()
}

/// Runs `f` on the store, after letting every block go if the template cache let a template
/// go since they were kept.
fn with_store<R>(limits: &Limits, f: impl FnOnce(&mut Store) -> R) -> R {
    let generation = template::generation(limits);
    STORE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let store = slot.get_or_insert_with(|| Store {
            blocks: LruCache::new(NonZeroUsize::new(MAX_BLOCKS).unwrap_or(NonZeroUsize::MIN)),
            bytes: 0,
            generation,
        });
        if store.generation != generation {
            store.blocks.clear();
            store.bytes = 0;
            store.generation = generation;
        }
        f(store)
    })
}

impl Store {
    fn insert(&mut self, key: u64, kept: Kept) {
        let size = kept.cost;
        if size > MAX_BYTES {
            return;
        }
        if let Some(old) = self.blocks.pop(&key) {
            self.bytes = self.bytes.saturating_sub(old.cost);
        }
        while self.bytes.saturating_add(size) > MAX_BYTES || self.blocks.len() >= MAX_BLOCKS {
            match self.blocks.pop_lru() {
                Some((_, old)) => self.bytes = self.bytes.saturating_sub(old.cost),
                None => break,
            }
        }
        self.bytes = self.bytes.saturating_add(size);
        self.blocks.push(key, kept);
    }
}

/// What to keep of a block just parsed, if it can be kept.
fn keep(
    parser: Parser,
    bytes: &[u8],
    limits: &Limits,
    entries: &[Entry],
    ttl: &BlockTtl,
    root: &impl Fn() -> Option<DocRef>,
) -> Option<Kept> {
    let mut kept = Vec::with_capacity(entries.len());
    let mut cost = bytes.len();
    for entry in entries {
        cost += NODE_COST + entry.name.len();
        kept.push(KeptEntry {
            name: entry.name.clone(),
            member: None,
            shape: shape_of(&entry.value, 0, &mut cost)?,
        });
    }
    if kept.iter().any(|k| has_verbatim(&k.shape)) {
        // The entries are the object's members in order, `$ttl` left out.
        let members = root()?.keys();
        let mut members = members.into_iter().filter(|k| k != TTL_KEY);
        for entry in &mut kept {
            let member = members.next()?;
            if has_verbatim(&entry.shape) {
                cost += member.len();
                entry.member = Some(member);
            }
        }
        if members.next().is_some() {
            return None;
        }
    }
    Some(Kept {
        parser,
        limits: *limits,
        bytes: bytes.into(),
        cost,
        entries: kept,
        ttl: ttl.clone(),
    })
}

/// The shape of `value`, its memory added to `cost`.
fn shape_of(value: &BlockValue, depth: usize, cost: &mut usize) -> Option<Shape> {
    if depth > MAX_KEPT_DEPTH {
        return None;
    }
    Some(match value {
        BlockValue::Verbatim(_) => Shape::Verbatim,
        BlockValue::Template(c) => Shape::Template(c.clone()),
        BlockValue::Array(items) => {
            let mut shapes = Vec::with_capacity(items.len());
            for item in items {
                *cost += NODE_COST;
                shapes.push(shape_of(item, depth + 1, cost)?);
            }
            Shape::Array(shapes)
        }
        BlockValue::Object(members) => {
            let mut shapes = Vec::with_capacity(members.len());
            for (key, item) in members {
                *cost += NODE_COST + key.len();
                shapes.push((key.clone(), shape_of(item, depth + 1, cost)?));
            }
            Shape::Object(shapes)
        }
    })
}

fn has_verbatim(shape: &Shape) -> bool {
    match shape {
        Shape::Verbatim => true,
        Shape::Template(_) => false,
        Shape::Array(items) => items.iter().any(has_verbatim),
        Shape::Object(members) => members.iter().any(|(_, s)| has_verbatim(s)),
    }
}

/// The entries of a kept block, verbatim values read from this call's document; `None` if
/// one is not where it was (not for the same bytes: the caller then parses them).
fn rebuild(kept: &Kept, root: &impl Fn() -> Option<DocRef>) -> Option<(Vec<Entry>, BlockTtl)> {
    let block = match kept.entries.iter().any(|e| e.member.is_some()) {
        true => Some(root()?),
        false => None,
    };
    let mut entries = Vec::with_capacity(kept.entries.len());
    for entry in &kept.entries {
        let doc = match (&entry.member, &block) {
            (Some(member), Some(block)) => Some(block.get(member)?),
            _ => None,
        };
        entries.push(Entry {
            name: entry.name.clone(),
            value: value_of(&entry.shape, doc.as_ref())?,
        });
    }
    Some((entries, kept.ttl.clone()))
}

/// The value `shape` describes, its verbatim parts read from `doc` (the value's document).
fn value_of(shape: &Shape, doc: Option<&DocRef>) -> Option<BlockValue> {
    Some(match shape {
        Shape::Verbatim => BlockValue::Verbatim(doc?.clone()),
        Shape::Template(c) => BlockValue::Template(c.clone()),
        Shape::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let child = match has_verbatim(item) {
                    true => Some(doc?.at(i)?),
                    false => None,
                };
                out.push(value_of(item, child.as_ref())?);
            }
            BlockValue::Array(out)
        }
        Shape::Object(members) => {
            let mut out = Vec::with_capacity(members.len());
            for (key, item) in members {
                let child = match has_verbatim(item) {
                    true => Some(doc?.get(key)?),
                    false => None,
                };
                out.push((key.clone(), value_of(item, child.as_ref())?));
            }
            BlockValue::Object(out)
        }
    })
}

/// How many blocks are kept and what they are counted as (for tests).
#[cfg(test)]
pub(crate) fn usage() -> (usize, usize) {
    STORE.with(|cell| {
        cell.borrow()
            .as_ref()
            .map_or((0, 0), |s| (s.blocks.len(), s.bytes))
    })
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
