//! `render_vars` and `render_iteration` (SPEC §5–6): a step's vars block extracted in the
//! caller's transaction. Locks come first, then the variables the block reads, then
//! evaluation (in the core), then one upsert of everything the block produced.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use noetl_vars_core::context::{Scope, VarStore, VarsState};
use noetl_vars_core::doc::{self, DocRef, Number, View};
use noetl_vars_core::output::OutValue;
use noetl_vars_core::render::{self, Settings};
use noetl_vars_core::validate::{self, quote, Phase, VarType};
use noetl_vars_core::{block, Error, ErrorKind};
use pgrx::prelude::*;

use crate::errors::{self, OrRaise, Raise};
use crate::guc;
use crate::jsonb::{self, Lifetime, PgJsonb};
use crate::locks::{Locks, Mode};
use crate::spi::Connection;
use crate::store::{check_out_size, execution};
use crate::table::{self, Types};

/// Renders a step's `vars:` block and stores every variable as `step_result`.
#[pg_extern(volatile, parallel_unsafe)]
fn render_vars(
    execution_id: Option<i64>,
    step: Option<&str>,
    result: Option<PgJsonb>,
    config: Option<PgJsonb>,
    context: default!(Option<PgJsonb>, "'{}'"),
    phase: default!(Option<&str>, "'after'"),
) -> PgJsonb {
    let execution_id = execution(execution_id);
    let step = validate::step_name(step).or_raise();
    let phase = Phase::parse(phase).or_raise();
    render(execution_id, step, result, config, context, phase, None)
}

/// Records one iteration of a looping step, then applies its per-iteration vars block.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn render_iteration(
    execution_id: Option<i64>,
    step: Option<&str>,
    item: Option<PgJsonb>,
    item_index: Option<i32>,
    total: Option<i32>,
    result: Option<PgJsonb>,
    config: Option<PgJsonb>,
    context: default!(Option<PgJsonb>, "'{}'"),
) -> PgJsonb {
    let execution_id = execution(execution_id);
    let step = validate::step_name(step).or_raise();
    let index = item_index
        .ok_or_else(|| Error::null_argument("item_index"))
        .or_raise();
    let iteration = Iteration { item, index, total };
    render(
        execution_id,
        step,
        result,
        config,
        context,
        Phase::After,
        Some(iteration),
    )
}

struct Iteration {
    item: Option<PgJsonb>,
    index: i32,
    total: Option<i32>,
}

/// The names of the iterator variables of `step`, in the order they are stored.
fn iterator_names(step: &str) -> [String; 4] {
    ["index", "item", "total", "count"].map(|suffix| format!("{step}_{suffix}"))
}

fn render(
    execution_id: i64,
    step: &str,
    result: Option<PgJsonb>,
    config: Option<PgJsonb>,
    context: Option<PgJsonb>,
    phase: Phase,
    iteration: Option<Iteration>,
) -> PgJsonb {
    let limits = guc::limits();
    let skip = guc::skip_errors();
    let conn = Connection::open();
    let life = Lifetime::new();

    let entries = block::parse(config.map(|c| c.doc(&life)).as_ref(), phase, &limits).or_raise();
    let iterator = iteration.as_ref().map(|_| iterator_names(step));
    if let Some(names) = &iterator {
        for name in names {
            validate::check_name("iterator variable name", name).or_raise();
        }
    }
    if entries.is_empty() && iteration.is_none() {
        return conn.in_caller(|| jsonb::build(&OutValue::Object(Vec::new())));
    }

    let store = Arc::new(PgStore::new(execution_id, life.clone()));
    let this = match phase {
        Phase::Before => None,
        // A missing result is a JSON null envelope: `this` is null, `result` is null.
        Phase::After => Some(result.map(|r| r.doc(&life)).unwrap_or_else(doc::null)),
    };
    let extra = match &iteration {
        Some(it) => vec![(
            "item".to_string(),
            it.item.map(|i| i.doc(&life)).unwrap_or_else(doc::null),
        )],
        None => Vec::new(),
    };
    let vars = VarsState::new(store.clone());
    let scope = Arc::new(Scope::new(
        execution_id,
        step,
        this,
        context.map(|c| c.doc(&life)),
        extra,
        vars,
    ));
    let plan = render::plan(entries, &scope);

    // Lock everything the block reads or writes before reading anything.
    let mut modes: BTreeMap<String, Mode> = plan
        .reads
        .iter()
        .map(|n| (n.clone(), Mode::Shared))
        .collect();
    for name in plan
        .writes()
        .chain(iterator.iter().flatten().map(String::as_str))
    {
        modes.insert(name.to_string(), Mode::Exclusive);
    }
    store.lock(Locks::acquire(execution_id, &modes));
    let mut prefetch: Vec<&str> = plan.reads.iter().map(String::as_str).collect();
    if let Some(names) = &iterator {
        prefetch.push(&names[3]);
    }
    store.prefetch(&prefetch);

    // What gets stored, in order; a later entry of the same name replaces an earlier one.
    let mut stored: Vec<(String, VarType, OutValue)> = Vec::new();
    if let (Some(it), Some(names)) = (&iteration, &iterator) {
        let stored_count = store.get(&names[3]);
        let count = match stored_count.as_ref().map(|d| d.view()) {
            None => 1,
            Some(View::Number(Number::Int(n))) => n.checked_add(1).unwrap_or_else(|| {
                Error::new(
                    ErrorKind::NumberOutOfRange,
                    format!("the stored {} is at the bigint maximum", quote(&names[3])),
                )
                .with_hint("delete it with noetl.delete_var to restart the count")
                .raise()
            }),
            Some(other) => Error::invalid(format!(
                "the stored {} is {}, not an integer count",
                quote(&names[3]),
                block::describe(&other)
            ))
            .with_hint("delete it with noetl.delete_var to restart the count")
            .raise(),
        };
        let values = [
            OutValue::Int(it.index as i64),
            OutValue::Doc(it.item.map(|i| i.doc(&life)).unwrap_or_else(doc::null)),
            it.total
                .map(|t| OutValue::Int(t as i64))
                .unwrap_or(OutValue::Null),
            OutValue::Int(count),
        ];
        for (name, value) in names.iter().zip(values) {
            scope.vars.assign(name, &value);
            stored.push((name.clone(), VarType::IteratorState, value));
        }
    }

    let settings = Settings {
        limits,
        stop_on_error: !skip,
    };
    for outcome in render::evaluate(&plan, &scope, &settings).or_raise() {
        match outcome.value {
            Ok(value) => {
                stored.retain(|(n, _, _)| *n != outcome.name);
                stored.push((outcome.name, VarType::StepResult, value));
            }
            Err(err) if skip => errors::warn(&skipping(err)),
            Err(err) => errors::raise(err),
        }
    }

    let mut kept = Vec::with_capacity(stored.len());
    let mut types = Vec::with_capacity(stored.len());
    for (name, var_type, value) in stored {
        if let Err(err) = check_out_size(&value, || {
            format!("step {}, variable {}", quote(step), quote(&name))
        }) {
            if skip && var_type == VarType::StepResult {
                errors::warn(&skipping(err));
                continue;
            }
            errors::raise(err);
        }
        types.push((name.clone(), var_type));
        kept.push((name, value));
    }
    // What the function returns is exactly what it writes: one object, built once.
    let out = conn.in_caller(|| jsonb::build(&OutValue::Object(kept)));
    if !types.is_empty() {
        let types = if types.iter().all(|(_, t)| *t == VarType::StepResult) {
            Types::All(VarType::StepResult.as_str())
        } else {
            Types::Each(jsonb::build(&OutValue::Object(
                types
                    .into_iter()
                    .map(|(n, t)| (n, OutValue::String(t.as_str().to_string())))
                    .collect(),
            )))
        };
        table::upsert_object(execution_id, out, types, Some(step));
    }
    life.end();
    out
}

fn skipping(err: Error) -> Error {
    Error {
        message: format!("skipped: {}", err.message),
        ..err
    }
}

/// The execution's variables as templates read them: prefetched in one query after locking,
/// anything else (`vars[name]`, enumeration) loaded on demand.
struct PgStore {
    execution_id: i64,
    life: Arc<Lifetime>,
    // A backend is single-threaded; the Mutexes only satisfy `VarStore: Send + Sync`.
    values: Mutex<HashMap<String, Option<DocRef>>>,
    locks: Mutex<Option<Locks>>,
}

impl PgStore {
    fn new(execution_id: i64, life: Arc<Lifetime>) -> PgStore {
        PgStore {
            execution_id,
            life,
            values: Mutex::new(HashMap::new()),
            locks: Mutex::new(None),
        }
    }

    fn lock(&self, locks: Locks) {
        if let Ok(mut slot) = self.locks.lock() {
            *slot = Some(locks);
        }
    }

    fn prefetch(&self, names: &[&str]) {
        let found = table::read_some(self.execution_id, names, &self.life);
        if let Ok(mut values) = self.values.lock() {
            for name in names {
                values.insert(name.to_string(), None);
            }
            for (name, doc) in found {
                values.insert(name, Some(doc));
            }
        }
    }
}

impl VarStore for PgStore {
    fn get(&self, name: &str) -> Option<DocRef> {
        if let Some(known) = self.values.lock().ok().and_then(|v| v.get(name).cloned()) {
            return known;
        }
        if let Some(locks) = self.locks.lock().ok().as_mut().and_then(|l| l.as_mut()) {
            locks.share(name);
        }
        let doc = table::read_some(self.execution_id, &[name], &self.life)
            .into_iter()
            .next()
            .map(|(_, d)| d);
        if let Ok(mut values) = self.values.lock() {
            values.insert(name.to_string(), doc.clone());
        }
        doc
    }

    fn names(&self) -> Vec<String> {
        table::names(self.execution_id)
    }
}
