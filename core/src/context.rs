//! What a template sees: `this`, `result`, `vars`, `workload`, step results and the rest, with
//! bare names resolved in the contract's priority order. Every object here reads its document
//! lazily, so a template that touches three fields of a 1 MB result converts three fields.

use foldhash::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

use crate::doc::{DocRef, Number, View};
use crate::output::OutValue;
pub use crate::stores::{EmptyStore, MemoryStore, VarStore};
pub use crate::value::LazyJson;

/// Stored variables plus the values a block has assigned so far: the execution's (`vars`,
/// `ctx`) or those of one `set:` scope ([`crate::scopes`]).
pub struct VarsState {
    store: Arc<dyn VarStore>,
    // The host is single-threaded; the Mutex only satisfies `Object: Send + Sync`.
    assigned: Mutex<HashMap<String, Resolved>>,
    /// What the entry keys of this collection start with ("" for the execution's).
    prefix: String,
    /// Members seen when nothing is stored under a name (`iter`: what `context.iter` passes,
    /// the iterator value, `_index`, …).
    base: Option<DocRef>,
}

impl VarsState {
    pub fn new(store: Arc<dyn VarStore>) -> Arc<VarsState> {
        Arc::new(VarsState {
            store,
            assigned: Mutex::new(HashMap::default()),
            prefix: String::new(),
            base: None,
        })
    }

    /// The variables of `scope` (one of [`crate::scopes::SET_SCOPES`]), over `base`.
    pub fn scoped(store: Arc<dyn VarStore>, scope: &str, base: Option<DocRef>) -> Arc<VarsState> {
        Arc::new(VarsState {
            store,
            assigned: Mutex::new(HashMap::default()),
            prefix: crate::scopes::prefix(scope),
            base: base.filter(|b| matches!(b.view(), View::Object(_))),
        })
    }

    /// Makes `value` what later templates of the block see as `vars.<name>`.
    pub fn assign(&self, name: &str, value: &OutValue) {
        // A document stays one, so that a pure path through it copies its numbers exactly.
        let value = match value {
            OutValue::Doc(doc) => Resolved::Doc(doc.clone()),
            other => Resolved::Value(out_to_value(other)),
        };
        if let Ok(mut assigned) = self.assigned.lock() {
            assigned.insert(name.to_string(), value);
        }
    }

    /// `vars.<name>` for a template of variable `current`: a variable reading its own name sees
    /// the stored value, any other name sees what the block assigned to it, else the stored one.
    pub fn lookup(&self, name: &str, current: Option<&str>) -> Option<Value> {
        self.lookup_node(name, current).map(|found| match found {
            Resolved::Doc(doc) => LazyJson::value(doc, 0),
            Resolved::Value(v) => v,
            Resolved::Vars | Resolved::State(_) => Value::UNDEFINED,
        })
    }

    /// The same as [`Self::lookup`], a stored value as its document (never `Vars` or `State`).
    pub(crate) fn lookup_node(&self, name: &str, current: Option<&str>) -> Option<Resolved> {
        let itself = current.and_then(|c| c.strip_prefix(self.prefix.as_str())) == Some(name);
        if !itself {
            if let Some(v) = self.assigned.lock().ok().and_then(|a| a.get(name).cloned()) {
                return Some(v);
            }
        }
        self.store
            .get(name)
            .or_else(|| self.base.as_ref().and_then(|b| b.get(name)))
            .map(Resolved::Doc)
    }

    fn names(&self) -> Vec<String> {
        let mut names = self.store.names();
        for name in self.base.iter().flat_map(|b| b.keys()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        if let Ok(assigned) = self.assigned.lock() {
            for name in assigned.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    }
}

/// `vars` as a template sees it while variable `current` is evaluated.
#[derive(Clone)]
pub(crate) struct VarsObject {
    state: Arc<VarsState>,
    current: Option<Arc<str>>,
}

impl fmt::Debug for VarsObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("vars")
    }
}

impl Object for VarsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.state.lookup(key, self.current.as_deref())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.state.names().into_iter().map(Value::from).collect())
    }
}

pub(crate) use crate::validate::RESERVED;

/// Everything one block is rendered with.
pub struct Scope {
    pub execution_id: i64,
    pub step: String,
    /// The step's result envelope; `None` in the `before` phase, where it is undefined.
    pub this: Option<DocRef>,
    pub context: Option<DocRef>,
    /// Names the caller adds on top of `context` (e.g. `item` of an iteration).
    pub extra: Vec<(String, DocRef)>,
    pub vars: Arc<VarsState>,
    /// The collections of a `set:` block, by the name templates use (`ctx` and the
    /// [`crate::scopes::SET_SCOPES`]); empty for a vars block.
    named: Vec<(&'static str, Arc<VarsState>)>,
    result: Option<DocRef>,
    workload: Option<DocRef>,
    results: Option<DocRef>,
}

impl Scope {
    pub fn new(
        execution_id: i64,
        step: &str,
        this: Option<DocRef>,
        context: Option<DocRef>,
        extra: Vec<(String, DocRef)>,
        vars: Arc<VarsState>,
    ) -> Scope {
        let result = this.as_ref().map(|this| match this.view() {
            View::Object(_) => this.get("data").unwrap_or_else(|| this.clone()),
            _ => this.clone(),
        });
        let member = |name: &str| {
            context
                .as_ref()
                .filter(|c| matches!(c.view(), View::Object(_)))
                .and_then(|c| c.get(name))
        };
        let workload = member("workload");
        let results = member("results");
        Scope {
            execution_id,
            step: step.to_string(),
            this,
            context,
            extra,
            vars,
            named: Vec::new(),
            result,
            workload,
            results,
        }
    }

    /// The scope of a `set:` block: `ctx` is `vars`, and each of `scoped` is an object of
    /// its own, ahead of every other meaning of its name (`step` is no longer the step's
    /// name).
    pub fn with_scopes(mut self, scoped: Vec<(&'static str, Arc<VarsState>)>) -> Scope {
        self.named = vec![("ctx", self.vars.clone())];
        self.named.extend(scoped);
        self
    }

    /// The collection templates call `name`, in a `set:` block.
    pub fn state(&self, name: &str) -> Option<&Arc<VarsState>> {
        self.named.iter().find(|(n, _)| *n == name).map(|(_, s)| s)
    }

    /// Makes `value` what later templates see under entry key `key` ([`crate::scopes`]).
    pub fn assign(&self, key: &str, value: &OutValue) {
        match crate::scopes::split(key) {
            (None, name) => self.vars.assign(name, value),
            (Some(scope), name) => {
                if let Some(state) = self.state(scope) {
                    state.assign(name, value);
                }
            }
        }
    }

    /// Resolves a bare name for variable `current`. `Err(value)` carries a computed value,
    /// `Ok(doc)` a document node; `None` leaves the name to the built-ins.
    pub(crate) fn resolve(&self, name: &str, current: Option<&str>) -> Option<Resolved> {
        let doc = |d: &Option<DocRef>| d.clone().map(Resolved::Doc);
        if let Some(state) = self.state(name) {
            return Some(Resolved::State(state.clone()));
        }
        match name {
            "null" => return Some(Resolved::Value(Value::from(()))),
            "this" => return doc(&self.this),
            "result" => return doc(&self.result),
            "vars" => return Some(Resolved::Vars),
            "execution_id" => return Some(Resolved::Value(Value::from(self.execution_id))),
            "step" => return Some(Resolved::Value(Value::from(self.step.as_str()))),
            "workload" => return doc(&self.workload),
            "results" => return doc(&self.results),
            "job" => return self.context_member("job").map(Resolved::Doc),
            _ => {}
        }
        if let Some((_, d)) = self.extra.iter().find(|(n, _)| n == name) {
            return Some(Resolved::Doc(d.clone()));
        }
        if let Some(d) = self.context_member(name) {
            return Some(Resolved::Doc(d));
        }
        if let Some(found) = self.variable(name, current) {
            return Some(found);
        }
        if let Some(d) = self.results.as_ref().and_then(|r| r.get(name)) {
            return Some(Resolved::Doc(d));
        }
        self.workload
            .as_ref()
            .and_then(|w| w.get(name))
            .map(Resolved::Doc)
    }

    /// The variable a bare name means: the execution's in a vars block; in a `set:` block the
    /// most specific one there is ([`crate::scopes::BARE_NAME_ORDER`]).
    fn variable(&self, name: &str, current: Option<&str>) -> Option<Resolved> {
        if self.named.is_empty() {
            return self.vars.lookup_node(name, current);
        }
        crate::scopes::BARE_NAME_ORDER
            .iter()
            .filter_map(|s| self.state(s))
            .find_map(|state| state.lookup_node(name, current))
    }

    fn context_member(&self, name: &str) -> Option<DocRef> {
        let context = self.context.as_ref()?;
        if !matches!(context.view(), View::Object(_)) {
            return None;
        }
        context.get(name)
    }

    /// Whether a bare name means something other than a variable for every template.
    pub fn shadows(&self, name: &str) -> bool {
        RESERVED.contains(&name)
            || self.state(name).is_some()
            || self.extra.iter().any(|(n, _)| n == name)
            || self.context_member(name).is_some()
    }
}

/// What a name stands for.
#[derive(Clone)]
pub(crate) enum Resolved {
    Doc(DocRef),
    Value(Value),
    Vars,
    /// A collection of a `set:` block (`ctx`, `step`, `iter`, …).
    State(Arc<VarsState>),
}

/// The root of the template context while variable `current` is evaluated.
pub(crate) struct RootContext {
    scope: Arc<Scope>,
    vars: Value,
    current: Option<Arc<str>>,
}

impl RootContext {
    pub fn value(scope: &Arc<Scope>, current: Option<&str>) -> Value {
        let current: Option<Arc<str>> = current.map(Arc::from);
        let vars = Value::from_object(VarsObject {
            state: scope.vars.clone(),
            current: current.clone(),
        });
        Value::from_object(RootContext {
            scope: scope.clone(),
            vars,
            current,
        })
    }
}

impl fmt::Debug for RootContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("context")
    }
}

impl Object for RootContext {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        match self.scope.resolve(key, self.current.as_deref())? {
            Resolved::Doc(doc) => Some(LazyJson::value(doc, 0)),
            Resolved::Value(v) => Some(v),
            Resolved::Vars => Some(self.vars.clone()),
            Resolved::State(state) => Some(Value::from_object(VarsObject {
                state,
                current: self.current.clone(),
            })),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }
}

/// A stored value as a template value.
pub(crate) fn out_to_value(out: &OutValue) -> Value {
    match out {
        OutValue::Null => Value::from(()),
        OutValue::Bool(b) => Value::from(*b),
        OutValue::Int(i) => Value::from(*i),
        OutValue::BigInt(s) => match Number::parse(s) {
            Some(Number::Int(i)) => Value::from(i),
            Some(Number::BigInt(i)) => Value::from(i),
            Some(Number::Float(f)) => Value::from(f),
            None => Value::from(s.as_str()),
        },
        OutValue::Float(f) => Value::from(*f),
        OutValue::String(s) => Value::from(s.as_str()),
        OutValue::Array(items) => Value::from(items.iter().map(out_to_value).collect::<Vec<_>>()),
        OutValue::Object(entries) => Value::from_iter(
            entries
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), out_to_value(v))),
        ),
        OutValue::Doc(doc) => LazyJson::value(doc.clone(), 0),
    }
}
