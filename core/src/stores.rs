//! The stores a host gives the templates: the trait it implements over its variables, and two
//! stores of its own (empty; over a map, for tests, the fuzzer and hosts that hold variables
//! themselves). Re-exported by [`crate::context`].

use crate::doc::DocRef;

/// The execution's stored variables, as the host reads them.
pub trait VarStore: Send + Sync {
    /// The stored value of `name`; `None` when there is no such variable.
    fn get(&self, name: &str) -> Option<DocRef>;
    /// Every variable name of the execution (only used when a template enumerates `vars`).
    fn names(&self) -> Vec<String>;
}

/// A store with nothing in it.
pub struct EmptyStore;

impl VarStore for EmptyStore {
    fn get(&self, _: &str) -> Option<DocRef> {
        None
    }
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A [`VarStore`] over a map, for tests, the fuzzer and hosts that hold variables themselves.
#[derive(Default)]
pub struct MemoryStore {
    vars: Vec<(String, DocRef)>,
}

impl MemoryStore {
    pub fn new(vars: Vec<(String, DocRef)>) -> MemoryStore {
        MemoryStore { vars }
    }
}

impl VarStore for MemoryStore {
    fn get(&self, name: &str) -> Option<DocRef> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
    }
    fn names(&self) -> Vec<String> {
        self.vars.iter().map(|(n, _)| n.clone()).collect()
    }
}
