//! What one call of a block may read and write, worked out from its plan before anything is
//! read: the locks it asks for ([`crate::backend::locks::Request`]) and the execution variables it
//! loads up front.

use std::collections::{BTreeMap, BTreeSet};

use noetl_vars_core::render::Plan;
use noetl_vars_core::scopes;

use crate::backend::locks::{Mode, Request};

/// What one call may read and write, worked out before anything is read.
pub(crate) struct Access {
    pub(crate) request: Request,
    /// Names read up front; the rest (when the block reads names known only at run time)
    /// are read when asked for.
    pub(crate) prefetch: Vec<String>,
    /// Names the block reads and writes: their rows are locked when read, and a placeholder
    /// row stands in for the ones that do not exist yet.
    pub(crate) rmw: BTreeSet<String>,
}

impl Access {
    /// The execution variables `plan` may read and write, besides which the call writes
    /// `extra` and reads and writes `counter` (an iteration's variables). The keys of other
    /// `set:` scopes are locked by their own scope (see [`super::set_block`]).
    pub(crate) fn of(plan: &Plan, extra: &[String], counter: Option<&str>) -> Access {
        let execution = |n: &&str| scopes::split(n).0.is_none();
        // Borrowed and sorted until the end: a block names a handful of variables, and each
        // owned copy is an allocation of every call.
        let reads: Vec<&str> = plan
            .reads
            .iter()
            .map(String::as_str)
            .filter(execution)
            .collect();
        let mut writes: Vec<&str> = plan
            .writes()
            .filter(execution)
            .chain(extra.iter().map(String::as_str))
            .collect();
        writes.sort_unstable();
        writes.dedup();
        let mut names: BTreeMap<String, Mode> = reads
            .iter()
            .filter(|n| writes.binary_search(n).is_err())
            .map(|n| (n.to_string(), Mode::Shared))
            .collect();
        names.extend(writes.iter().map(|n| (n.to_string(), Mode::Exclusive)));
        // A block that reads names known only at run time may read any of its writes.
        let mut rmw: Vec<&str> = writes
            .iter()
            .copied()
            .filter(|n| plan.all_vars || plan.reads.contains(*n))
            .collect();
        rmw.extend(counter);
        let mut prefetch: Vec<&str> = reads.iter().chain(&rmw).copied().collect();
        prefetch.sort_unstable();
        prefetch.dedup();
        Access {
            request: Request {
                names,
                reads_all: plan.all_vars,
                scopes: Vec::new(),
                shared: Vec::new(),
            },
            prefetch: prefetch.into_iter().map(str::to_string).collect(),
            rmw: rmw.into_iter().map(str::to_string).collect(),
        }
    }
}
