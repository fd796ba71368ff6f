//! A step's `vars:` block: which format it is in, which entries apply in a phase, and how each
//! value is stored (typing rules 1–3).

use std::borrow::Cow;
use std::sync::Arc;

use crate::doc::{DocRef, View};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limits;
use crate::limits::MAX_DEPTH;
use crate::template::{self, Compiled, Reads};
use crate::ttl::{BlockTtl, TTL_KEY};
use crate::validate::{self, Phase};

pub mod cache;

/// How one value of the block is produced.
#[derive(Debug, Clone)]
pub enum BlockValue {
    /// Stored exactly as written: numbers, booleans, null, strings without template syntax,
    /// and containers holding nothing else.
    Verbatim(DocRef),
    /// A string with template syntax.
    Template(Arc<Compiled>),
    /// A container with templates somewhere inside; keys are never rendered.
    Array(Vec<BlockValue>),
    Object(Vec<(String, BlockValue)>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub value: BlockValue,
}

impl Entry {
    /// Everything this entry's templates read: a single template's own record, borrowed (the
    /// usual entry), or the union of its parts' records.
    pub fn reads(&self) -> Cow<'_, Reads> {
        if let BlockValue::Template(c) = &self.value {
            return Cow::Borrowed(&c.reads);
        }
        let mut reads = Reads::default();
        collect_reads(&self.value, &mut reads);
        Cow::Owned(reads)
    }
}

fn collect_reads(value: &BlockValue, reads: &mut Reads) {
    match value {
        BlockValue::Verbatim(_) => {}
        BlockValue::Template(c) => {
            reads.vars.extend(c.reads.vars.iter().cloned());
            reads.names.extend(c.reads.names.iter().cloned());
            reads.all_vars |= c.reads.all_vars;
            reads.scoped.extend(c.reads.scoped.iter().cloned());
            reads.scoped_all.extend(c.reads.scoped_all.iter().cloned());
        }
        BlockValue::Array(items) => items.iter().for_each(|p| collect_reads(p, reads)),
        BlockValue::Object(entries) => entries.iter().for_each(|(_, p)| collect_reads(p, reads)),
    }
}

/// The two formats of a vars block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `{"name": template, …}`: applies in the `after` phase.
    Simple,
    /// `{"before": {…}, "after": {…}}` (either key may be missing).
    BeforeAfter,
}

/// Tells the formats apart: an object whose keys are a non-empty subset of `before` and
/// `after`, each an object, is a before/after block; any other object is a simple block.
pub(crate) fn format_of(config: &DocRef) -> Format {
    let View::Object(len) = config.view() else {
        return Format::Simple;
    };
    // Counted, not listed: every call asks, and listing the keys copies each one. A `$ttl`
    // beside `before`/`after` is misplaced (see `phase_block`), not a variable.
    let phases = ["before", "after"]
        .iter()
        .filter(|k| {
            config
                .get(k)
                .is_some_and(|v| matches!(v.view(), View::Object(_)))
        })
        .count();
    let ttl = usize::from(config.get(TTL_KEY).is_some());
    if phases > 0 && phases + ttl == len {
        Format::BeforeAfter
    } else {
        Format::Simple
    }
}

/// The entries of `config` that apply in `phase`. `None`, JSON `null` and `{}` have none.
/// Templates are compiled on the evaluation stack (parsing recurses per nesting level).
pub fn parse(config: Option<&DocRef>, phase: Phase, limits: &Limits) -> Result<Vec<Entry>> {
    let block = phase_block(config, phase)?;
    Ok(crate::stack::run(limits, || parse_here(block.as_ref(), limits))??.0)
}

/// [`parse`] and [`ttl`] at once, the block's phase found once.
pub fn parse_with_ttl(
    config: Option<&DocRef>,
    phase: Phase,
    limits: &Limits,
) -> Result<(Vec<Entry>, BlockTtl)> {
    let block = phase_block(config, phase)?;
    let (entries, has_ttl) = crate::stack::run(limits, || parse_here(block.as_ref(), limits))??;
    let ttl = match block {
        Some(block) if has_ttl => {
            let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
            BlockTtl::of(&block, &names, |_| Ok(()))?
        }
        _ => BlockTtl::default(),
    };
    Ok((entries, ttl))
}

/// [`parse_with_ttl`] of a block held in `bytes` (the document `config` was read from), kept
/// per process for the next call with the same bytes ([`cache`]); no bytes (no block) parse
/// as no block.
pub fn parse_with_ttl_cached(
    bytes: Option<&[u8]>,
    config: Option<&DocRef>,
    phase: Phase,
    limits: &Limits,
) -> Result<(Vec<Entry>, BlockTtl)> {
    let Some(bytes) = bytes else {
        return parse_with_ttl(config, phase, limits);
    };
    let parser = match phase {
        Phase::Before => 1,
        Phase::After => 2,
    };
    cache::parsed(
        parser,
        bytes,
        limits,
        || phase_block(config, phase).ok().flatten(),
        || parse_with_ttl(config, phase, limits),
    )
}

/// The lifetimes the `$ttl` of the entries of `config` that apply in `phase` give.
pub fn ttl(config: Option<&DocRef>, phase: Phase) -> Result<BlockTtl> {
    let Some(block) = phase_block(config, phase)? else {
        return Ok(BlockTtl::default());
    };
    // Most blocks have no `$ttl`: one look-up instead of listing every key.
    if block.get(TTL_KEY).is_none() {
        return Ok(BlockTtl::default());
    }
    let mut keys = block.keys();
    keys.retain(|k| k != TTL_KEY);
    BlockTtl::of(&block, &keys, |_| Ok(()))
}

/// The object of `config` whose keys are the variables of `phase`, if any.
fn phase_block(config: Option<&DocRef>, phase: Phase) -> Result<Option<DocRef>> {
    let Some(config) = config else {
        return Ok(None);
    };
    match config.view() {
        View::Object(_) => {}
        View::Null => return Ok(None),
        other => {
            return Err(Error::invalid(format!(
                "config must be a JSON object (the step's vars: block), not {}",
                describe(&other)
            ))
            .with_hint(
                "pass {\"name\": \"{{ template }}\", …} or {\"before\": {…}, \"after\": {…}}",
            ))
        }
    }
    match (format_of(config), phase) {
        (Format::Simple, Phase::After) => Ok(Some(config.clone())),
        (Format::Simple, Phase::Before) => Ok(None),
        (Format::BeforeAfter, _) if config.get(TTL_KEY).is_some() => Err(Error::invalid(
            "$ttl of a before/after block goes inside before or after, beside the variables it covers",
        )
        .with_hint("write {\"after\": {\"token\": …, \"$ttl\": {\"token\": \"15 minutes\"}}}")),
        (Format::BeforeAfter, phase) => Ok(config.get(phase.as_str())),
    }
}

/// The entries of a phase's block, and whether it has a `$ttl`.
fn parse_here(block: Option<&DocRef>, limits: &Limits) -> Result<(Vec<Entry>, bool)> {
    let Some(block) = block else {
        return Ok((Vec::new(), false));
    };
    let mut entries = Vec::new();
    let mut total = 0usize;
    let mut has_ttl = false;
    for (n, (name, value)) in block.entries().into_iter().enumerate() {
        if n % 1024 == 1023 {
            crate::interrupt::poll();
        }
        if name == TTL_KEY {
            has_ttl = true;
            continue;
        }
        validate::check_name("variable name", &name).map_err(|e| {
            let shown = validate::quote(&name);
            Error::new(e.kind, format!("{} ({shown})", e.message))
        })?;
        let classified = classify(&value, 0, limits, &mut total).map_err(|e| {
            Error::new(
                e.kind,
                format!("variable {}: {}", validate::quote(&name), e.message),
            )
        })?;
        entries.push(Entry {
            name,
            value: classified,
        });
    }
    Ok((entries, has_ttl))
}

pub fn describe(view: &View<'_>) -> &'static str {
    match view {
        View::Null => "null",
        View::Bool(_) => "a boolean",
        View::Number(_) => "a number",
        View::String(_) => "a string",
        View::Array(_) => "an array",
        View::Object(_) => "an object",
    }
}

/// The template text of one block may total at most `noetl_vars.max_value_bytes`: each
/// compiled template takes several times its source in memory, and a block holds all of its
/// templates while it runs.
fn count_template(total: &mut usize, source: &str, limits: &Limits) -> Result<()> {
    *total = total.saturating_add(source.len());
    if *total > limits.max_value_bytes {
        return Err(Error::new(
            ErrorKind::ValueTooLarge,
            format!(
                "the templates of the vars block total more than noetl_vars.max_value_bytes ({} bytes)",
                limits.max_value_bytes
            ),
        ));
    }
    Ok(())
}

pub(crate) fn classify(
    value: &DocRef,
    depth: usize,
    limits: &Limits,
    total: &mut usize,
) -> Result<BlockValue> {
    if depth > MAX_DEPTH {
        return Err(Error::new(
            ErrorKind::TooComplex,
            format!("the vars block nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    Ok(match value.view() {
        View::String(s) if template::has_template_syntax(&s) => {
            count_template(total, &s, limits)?;
            BlockValue::Template(template::compile(&s, limits))
        }
        View::Array(len) => {
            let mut items = Vec::with_capacity(len);
            for i in 0..len {
                if i % 1024 == 1023 {
                    crate::interrupt::poll();
                }
                if let Some(item) = value.at(i) {
                    items.push(classify(&item, depth + 1, limits, total)?);
                }
            }
            if items.iter().all(|p| matches!(p, BlockValue::Verbatim(_))) {
                BlockValue::Verbatim(value.clone())
            } else {
                BlockValue::Array(items)
            }
        }
        View::Object(_) => {
            let mut entries = Vec::new();
            for (i, (key, item)) in value.entries().into_iter().enumerate() {
                if i % 1024 == 1023 {
                    crate::interrupt::poll();
                }
                entries.push((key, classify(&item, depth + 1, limits, total)?));
            }
            if entries
                .iter()
                .all(|(_, p)| matches!(p, BlockValue::Verbatim(_)))
            {
                BlockValue::Verbatim(value.clone())
            } else {
                BlockValue::Object(entries)
            }
        }
        _ => BlockValue::Verbatim(value.clone()),
    })
}

#[cfg(test)]
mod tests;
