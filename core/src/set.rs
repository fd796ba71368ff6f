//! A `set:` block (docs/set-blocks.md): which scope each key writes, as block entries keyed the way
//! [`crate::scopes`] describes, with the values typed as in a vars block.
//!
//! A key is split at its first dot: no dot (`x`) and `ctx.x` write the execution variable
//! `x`, NoETL's own reading of a bare key; `step.`, `iter.`, `workflow.` and `global.` write
//! those scopes; any other prefix is refused, naming it, rather than being taken for an
//! execution variable with a dot in its name (a misspelt `setp.x` must not vanish into `ctx`).

use std::collections::HashMap;

use crate::block::{self, Entry};
use crate::doc::{DocRef, View};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::scopes;
use crate::ttl::{BlockTtl, TTL_KEY};
use crate::validate::{self, quote};

/// Which of the optional scopes the call can write.
#[derive(Debug, Clone, Copy, Default)]
pub struct Available {
    /// An iteration was given, so `iter.x` has somewhere to go.
    pub iteration: bool,
    /// A playbook (catalog path) was given, so `workflow.x` has somewhere to go.
    pub playbook: bool,
}

/// The entries of a `set:` block. `None` and JSON `null` have none.
pub fn parse(
    mutations: Option<&DocRef>,
    available: Available,
    limits: &Limits,
) -> Result<Vec<Entry>> {
    crate::stack::run(limits, || parse_here(mutations, available, limits))?
}

/// [`parse`] and [`ttl`] of a block held in `bytes` (the document `mutations` was read from),
/// kept per process for the next call with the same bytes ([`block::cache`]); no bytes (no
/// block) parse as no block.
pub fn parse_with_ttl_cached(
    bytes: Option<&[u8]>,
    mutations: Option<&DocRef>,
    available: Available,
    limits: &Limits,
) -> Result<(Vec<Entry>, BlockTtl)> {
    let parse = || {
        Ok((
            parse(mutations, available, limits)?,
            ttl(mutations, available)?,
        ))
    };
    let Some(bytes) = bytes else {
        return parse();
    };
    let parser = 16 | u32::from(available.iteration) | u32::from(available.playbook) << 1;
    block::cache::parsed(parser, bytes, limits, || mutations.cloned(), parse)
}

fn parse_here(
    mutations: Option<&DocRef>,
    available: Available,
    limits: &Limits,
) -> Result<Vec<Entry>> {
    let Some(block) = mutations else {
        return Ok(Vec::new());
    };
    match block.view() {
        View::Object(_) => {}
        View::Null => return Ok(Vec::new()),
        other => {
            return Err(Error::invalid(format!(
                "mutations must be a JSON object (the set: block), not {}",
                block::describe(&other)
            ))
            .with_hint("pass {\"ctx.name\": \"{{ template }}\", \"step.name\": …, …}"))
        }
    }
    let mut entries = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut total = 0usize;
    for (n, (written, value)) in block.entries().into_iter().enumerate() {
        if n % 1024 == 1023 {
            crate::interrupt::poll();
        }
        if written == TTL_KEY {
            continue;
        }
        let name = target(&written, available)?;
        if let Some(other) = seen.insert(name.clone(), written.clone()) {
            return Err(Error::invalid(format!(
                "set: keys {} and {} write the same variable",
                quote(&other),
                quote(&written)
            ))
            .with_hint("a bare key is ctx.<key>: keep one of them"));
        }
        let value = block::classify(&value, 0, limits, &mut total).map_err(|e| {
            Error::new(
                e.kind,
                format!("set: key {}: {}", quote(&written), e.message),
            )
        })?;
        entries.push(Entry { name, value });
    }
    Ok(entries)
}

/// The lifetimes the block's `$ttl` gives its execution variables, by variable name. Only
/// execution variables (`ctx.x`, `x`) have a lifetime: step and iteration values end with
/// `finish_step`, workflow and global values outlive executions by design.
pub fn ttl(mutations: Option<&DocRef>, available: Available) -> Result<BlockTtl> {
    let Some(block) = mutations.filter(|b| matches!(b.view(), View::Object(_))) else {
        return Ok(BlockTtl::default());
    };
    // Most blocks have no `$ttl`: one look-up instead of listing every key.
    if block.get(TTL_KEY).is_none() {
        return Ok(BlockTtl::default());
    }
    let mut keys = block.keys();
    keys.retain(|k| k != TTL_KEY);
    let by_key = BlockTtl::of(block, &keys, |written| {
        match target(written, available).map(|name| scopes::split(&name).0.map(str::to_string)) {
            Ok(None) => Ok(()),
            Ok(Some(scope)) => Err(format!(
                "{scope}. values have no lifetime, only execution variables (ctx.<name>) do"
            )),
            Err(err) => Err(err.message),
        }
    })?;
    let mut each = HashMap::with_capacity(by_key.each.len());
    for (written, ttl) in by_key.each {
        each.insert(target(&written, available)?, ttl);
    }
    Ok(BlockTtl {
        all: by_key.all,
        each,
    })
}

/// The entry key a `set:` key writes.
fn target(written: &str, available: Available) -> Result<String> {
    let Some((prefix, name)) = written.split_once('.') else {
        checked_name(written, written)?;
        return Ok(written.to_string());
    };
    let scope = match prefix {
        "ctx" => None,
        other => Some(scopes::known(other).ok_or_else(|| {
            Error::invalid(format!(
                "set: key {}: unknown scope {}",
                quote(written),
                quote(other)
            ))
            .with_hint("a key is ctx.<name> (or a bare <name>), step.<name>, iter.<name>, workflow.<name> or global.<name>")
        })?),
    };
    checked_name(written, name)?;
    match scope {
        None => Ok(name.to_string()),
        Some("iter") if !available.iteration => Err(Error::invalid(format!(
            "set: key {}: iter. needs an iteration, and iteration is NULL",
            quote(written)
        ))
        .with_hint("pass iteration => the loop index of the iteration this block belongs to")),
        Some("workflow") if !available.playbook => Err(Error::invalid(format!(
            "set: key {}: workflow. needs a playbook, and playbook is NULL",
            quote(written)
        ))
        .with_hint("pass playbook => the playbook's catalog path")),
        Some(scope) => Ok(scopes::key(scope, name)),
    }
}

fn checked_name(written: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(
            Error::invalid(format!("set: key {} names no variable", quote(written)))
                .with_hint("write the variable's name after the scope, e.g. ctx.total"),
        );
    }
    validate::check_name("variable name", name).map_err(|e| {
        Error::new(
            e.kind,
            format!("set: key {}: {}", quote(written), e.message),
        )
    })
}
