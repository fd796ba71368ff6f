//! What a template sees: `this`, `result`, `vars`, `workload`, step results and the rest, with
//! bare names resolved in the contract's priority order. Every object here reads its document
//! lazily, so a template that touches three fields of a 1 MB result converts three fields.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

use crate::doc::{DocRef, Number, View};
use crate::output::OutValue;
pub use crate::value::LazyJson;

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

/// Stored variables plus the values a block has assigned so far.
pub struct VarsState {
    store: Arc<dyn VarStore>,
    // The host is single-threaded; the Mutex only satisfies `Object: Send + Sync`.
    assigned: Mutex<HashMap<String, Value>>,
}

impl VarsState {
    pub fn new(store: Arc<dyn VarStore>) -> Arc<VarsState> {
        Arc::new(VarsState {
            store,
            assigned: Mutex::new(HashMap::new()),
        })
    }

    /// Makes `value` what later templates of the block see as `vars.<name>`.
    pub fn assign(&self, name: &str, value: &OutValue) {
        let value = out_to_value(value);
        if let Ok(mut assigned) = self.assigned.lock() {
            assigned.insert(name.to_string(), value);
        }
    }

    /// `vars.<name>` for a template of variable `current`: a variable reading its own name sees
    /// the stored value, any other name sees what the block assigned to it, else the stored one.
    pub fn lookup(&self, name: &str, current: Option<&str>) -> Option<Value> {
        if current != Some(name) {
            if let Some(v) = self.assigned.lock().ok().and_then(|a| a.get(name).cloned()) {
                return Some(v);
            }
        }
        self.store.get(name).map(|doc| LazyJson::value(doc, 0))
    }

    fn names(&self) -> Vec<String> {
        let mut names = self.store.names();
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
            result,
            workload,
            results,
        }
    }

    /// Resolves a bare name for variable `current`. `Err(value)` carries a computed value,
    /// `Ok(doc)` a document node; `None` leaves the name to the built-ins.
    pub(crate) fn resolve(&self, name: &str, current: Option<&str>) -> Option<Resolved> {
        let doc = |d: &Option<DocRef>| d.clone().map(Resolved::Doc);
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
        if let Some(v) = self.vars.lookup(name, current) {
            return Some(Resolved::Value(v));
        }
        if let Some(d) = self.results.as_ref().and_then(|r| r.get(name)) {
            return Some(Resolved::Doc(d));
        }
        self.workload
            .as_ref()
            .and_then(|w| w.get(name))
            .map(Resolved::Doc)
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
            || self.extra.iter().any(|(n, _)| n == name)
            || self.context_member(name).is_some()
    }
}

/// What a name stands for.
pub(crate) enum Resolved {
    Doc(DocRef),
    Value(Value),
    Vars,
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
