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
        let mut names: BTreeMap<String, Mode> = plan
            .reads
            .iter()
            .map(String::as_str)
            .filter(execution)
            .map(|n| (n.to_string(), Mode::Shared))
            .collect();
        let writes: BTreeSet<String> = plan
            .writes()
            .filter(execution)
            .chain(extra.iter().map(String::as_str))
            .map(str::to_string)
            .collect();
        for name in &writes {
            names.insert(name.clone(), Mode::Exclusive);
        }
        // A block that reads names known only at run time may read any of its writes.
        let mut rmw: BTreeSet<String> = writes
            .iter()
            .filter(|n| plan.all_vars || plan.reads.contains(*n))
            .cloned()
            .collect();
        if let Some(counter) = counter {
            rmw.insert(counter.to_string());
        }
        let prefetch = plan
            .reads
            .iter()
            .filter(|n| execution(&n.as_str()))
            .chain(rmw.iter())
            .cloned()
            .collect::<BTreeSet<_>>();
        Access {
            request: Request {
                names,
                reads_all: plan.all_vars,
                scopes: Vec::new(),
                shared: Vec::new(),
            },
            prefetch: prefetch.into_iter().collect(),
            rmw,
        }
    }
}
