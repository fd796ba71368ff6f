//! Rendering a vars block: what it reads and writes (so the host can lock and prefetch before
//! anything is read), the order of evaluation, and the typed value of every entry.

use std::collections::BTreeSet;

use foldhash::HashMap;
use std::sync::Arc;

use crate::block::{BlockValue, Entry};
use crate::context::{RootContext, Scope};
use crate::deps::{self, Order};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limits;
use crate::output::OutValue;
use crate::scopes;
use crate::template::{self, Compiled, Evaluation, Rendered};
use crate::validate::quote;

/// A block ready to be evaluated.
#[derive(Debug)]
pub struct Plan {
    pub entries: Vec<Entry>,
    pub order: Order,
    /// Names that templates may read as variables (`vars.x`, and bare names that nothing else
    /// claims) and keys of `set:` scope members they read, sorted.
    pub reads: BTreeSet<String>,
    /// Whether a template uses `vars` as a whole (enumeration or a computed name).
    pub all_vars: bool,
    /// The `set:` scopes a template uses as a whole; their members' reads are in `reads`,
    /// keyed as [`crate::scopes`] says.
    pub scoped_all: BTreeSet<String>,
}

impl Plan {
    /// The names the block writes, in block order.
    pub fn writes(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }
}

/// Works out what `entries` read and in which order they must be evaluated.
pub fn plan(entries: Vec<Entry>, scope: &Scope) -> Plan {
    let index: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    let mut reads = BTreeSet::new();
    let mut whole = BTreeSet::new();
    let mut all_vars = false;
    let mut deps = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        if i % 1024 == 1023 {
            crate::interrupt::poll();
        }
        let r = entry.reads();
        all_vars |= r.all_vars;
        whole.extend(
            r.scoped_all
                .iter()
                .filter(|s| scope.state(s).is_some())
                .cloned(),
        );
        let mut mine = Vec::new();
        for name in names_read(&r, scope) {
            if let Some(&j) = index.get(name.as_str()) {
                if j != i {
                    mine.push(j);
                }
            }
            reads.insert(name);
        }
        deps.push(mine);
    }
    let order = deps::order(&deps);
    Plan {
        entries,
        order,
        reads,
        all_vars,
        scoped_all: whole,
    }
}

/// The variables one entry's templates may read, as entry keys: `vars.x`; bare names nothing
/// else claims, which in a `set:` block may be any scope's variable (the most specific one there
/// is, `Scope::resolve`) and so read each of them; members of the `set:` scopes.
fn names_read(r: &template::Reads, scope: &Scope) -> Vec<String> {
    let bare: Vec<&String> = r.names.iter().filter(|n| !scope.shadows(n)).collect();
    let hierarchy = bare.iter().flat_map(|n| {
        scopes::BARE_NAME_ORDER
            .iter()
            .filter(|s| **s != "ctx" && scope.state(s).is_some())
            .map(move |s| scopes::key(s, n))
    });
    let scoped = r
        .scoped
        .iter()
        .filter(|(s, _)| scope.state(s).is_some())
        .map(|(s, n)| scopes::key(s, n));
    r.vars
        .iter()
        .chain(bare.iter().copied())
        .cloned()
        .chain(scoped)
        .chain(hierarchy)
        .collect()
}

/// How failures are handled.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub limits: Limits,
    /// Stop at the first failure (`error` mode); otherwise every entry is tried (`skip` mode).
    pub stop_on_error: bool,
}

/// What one entry came to.
#[derive(Debug)]
pub struct Outcome {
    pub name: String,
    pub value: Result<OutValue>,
}

/// Evaluates the plan in dependency order, on the evaluation stack. Each success is visible
/// to later templates as `vars.<name>`. With `stop_on_error` the last outcome is the first
/// failure. The error is a refused evaluation stack.
pub fn evaluate(plan: &Plan, scope: &Arc<Scope>, settings: &Settings) -> Result<Vec<Outcome>> {
    crate::stack::run(&settings.limits, || evaluate_here(plan, scope, settings))
}

fn evaluate_here(plan: &Plan, scope: &Arc<Scope>, settings: &Settings) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(plan.entries.len());
    for cycle in &plan.order.cycles {
        let err = cycle_error(plan, cycle, &scope.step);
        if settings.stop_on_error {
            outcomes.push(Outcome {
                name: plan.entries[cycle[0]].name.clone(),
                value: Err(err),
            });
            return outcomes;
        }
        for &i in cycle {
            let name = &plan.entries[i].name;
            outcomes.push(Outcome {
                name: name.clone(),
                value: Err(Error {
                    message: format!(
                        "step {}, variable {}: it reads itself through a cycle: {}",
                        quote(&scope.step),
                        quote(&scopes::display(name)),
                        cycle_path(plan, cycle)
                    ),
                    ..err.clone()
                }),
            });
        }
    }
    for (n, &i) in plan.order.order.iter().enumerate() {
        if n % 1024 == 1023 {
            crate::interrupt::poll();
        }
        let entry = &plan.entries[i];
        let value = eval_value(&entry.value, scope, Some(&entry.name), &settings.limits)
            .map_err(|e| in_context(e, &scope.step, &entry.name));
        match &value {
            Ok(v) => scope.assign(&entry.name, v),
            Err(_) if settings.stop_on_error => {
                outcomes.push(Outcome {
                    name: entry.name.clone(),
                    value,
                });
                return outcomes;
            }
            Err(_) => {}
        }
        outcomes.push(Outcome {
            name: entry.name.clone(),
            value,
        });
    }
    outcomes
}

/// Evaluates one template string on its own (no block, no dependency order): the core of
/// `render_vars` for a single value, used by tests and the fuzzer.
pub fn evaluate_one(source: &str, scope: &Arc<Scope>, limits: &Limits) -> Result<OutValue> {
    if !template::has_template_syntax(source) {
        return Ok(OutValue::String(source.to_string()));
    }
    crate::stack::run(limits, || {
        eval_template(&template::compile(source, limits), scope, None, limits)
    })?
}

fn in_context(err: Error, step: &str, var: &str) -> Error {
    Error {
        message: format!(
            "step {}, variable {}: {}",
            quote(step),
            quote(&scopes::display(var)),
            err.message
        ),
        ..err
    }
}

/// `"a" -> "b" -> "a"`
fn cycle_path(plan: &Plan, cycle: &[usize]) -> String {
    let mut path: Vec<String> = cycle
        .iter()
        .map(|&i| quote(&scopes::display(&plan.entries[i].name)))
        .collect();
    path.push(quote(&scopes::display(&plan.entries[cycle[0]].name)));
    path.join(" -> ")
}

fn cycle_error(plan: &Plan, cycle: &[usize], step: &str) -> Error {
    let listed: Vec<String> = cycle
        .iter()
        .map(|&i| quote(&scopes::display(&plan.entries[i].name)))
        .collect();
    Error::new(
        ErrorKind::Cycle,
        format!(
            "step {}: variables {} read each other in a cycle: {}",
            quote(step),
            listed.join(", "),
            cycle_path(plan, cycle)
        ),
    )
    .with_hint("a variable may read its own stored value, but not a value that depends on it")
}

fn eval_value(
    value: &BlockValue,
    scope: &Arc<Scope>,
    current: Option<&str>,
    limits: &Limits,
) -> Result<OutValue> {
    match value {
        BlockValue::Verbatim(doc) => Ok(OutValue::Doc(doc.clone())),
        BlockValue::Template(compiled) => eval_template(compiled, scope, current, limits),
        BlockValue::Array(items) => items
            .iter()
            .map(|p| eval_value(p, scope, current, limits))
            .collect::<Result<Vec<_>>>()
            .map(OutValue::Array),
        BlockValue::Object(fields) => fields
            .iter()
            .map(|(k, p)| Ok((k.clone(), eval_value(p, scope, current, limits)?)))
            .collect::<Result<Vec<_>>>()
            .map(OutValue::Object),
    }
}

fn eval_template(
    compiled: &Compiled,
    scope: &Arc<Scope>,
    current: Option<&str>,
    limits: &Limits,
) -> Result<OutValue> {
    if let Evaluation::Path(p) = &compiled.evaluation {
        if let Some(value) = crate::resolve::resolve(p, scope, current) {
            return Ok(value);
        }
    }
    // The shortened source is only worked out for an error: every evaluation would pay for it.
    let annotate = |e: Error| Error {
        message: format!(
            "{} in template {}",
            e.message,
            template::shorten(&compiled.source, 120)
        ),
        ..e
    };
    match compiled
        .run(RootContext::value(scope, current), limits)
        .map_err(annotate)?
    {
        Rendered::Value(v) => OutValue::from_value(&v).map_err(|e| {
            let e = annotate(e);
            Error {
                detail: Some(template::snippet(&compiled.source, None, None)),
                ..e
            }
        }),
        Rendered::Text(t) => crate::output::storable_text(&t)
            .map(OutValue::String)
            .map_err(annotate),
    }
}
