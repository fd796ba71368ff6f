//! Running a step's vars block (SPEC §5–6) in the caller's transaction, for `render_vars` and
//! `render_iteration` ([`crate::api`]). Everything the block may read or write is locked first
//! (in one order, see [`crate::locks`]), then the variables it reads are loaded (rows it reads
//! and writes are row-locked, so plain-SQL writers wait too), then the core evaluates it, then
//! one upsert stores everything it produced.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use noetl_vars_core::context::{Scope, VarStore, VarsState};
use noetl_vars_core::doc::{self, DocRef, Number, View};
use noetl_vars_core::output::OutValue;
use noetl_vars_core::render::{self, Plan, Settings};
use noetl_vars_core::validate::{quote, Phase, VarType};
use noetl_vars_core::{block, scopes, Error, ErrorKind};

use crate::args;
use crate::errors::{self, OrRaise, Raise};
use crate::guc;
use crate::jsonb::{self, Lifetime, PgJsonb};
use crate::locks::{Locks, Mode, Request};
use crate::spi::Connection;
use crate::table::{self, Types};
use crate::vars_store::PgStore;

pub(crate) struct Iteration {
    pub(crate) item: Option<PgJsonb>,
    pub(crate) index: i32,
    pub(crate) total: Option<i32>,
    /// `{step}_index`, `{step}_item`, `{step}_total`, `{step}_count`, stored in this order.
    pub(crate) names: [String; 4],
}

impl Iteration {
    fn count_name(&self) -> &str {
        &self.names[3]
    }

    /// `item` as a document (SQL NULL is JSON null).
    fn item_doc(&self, life: &Arc<Lifetime>) -> DocRef {
        self.item.map(|i| i.doc(life)).unwrap_or_else(doc::null)
    }
}

/// One call of `render_vars` or `render_iteration`.
pub(crate) struct Call<'a> {
    pub(crate) execution_id: i64,
    pub(crate) step: &'a str,
    pub(crate) result: Option<PgJsonb>,
    pub(crate) config: Option<PgJsonb>,
    pub(crate) context: Option<PgJsonb>,
    pub(crate) phase: Phase,
    pub(crate) iteration: Option<Iteration>,
}

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
    /// The execution variables `plan` may read and write (the keys of other `set:` scopes
    /// are locked by their own scope, see [`crate::set`]).
    pub(crate) fn of(plan: &Plan, iteration: Option<&Iteration>) -> Access {
        let execution = |n: &&str| scopes::split(n).0.is_none();
        let mut names: BTreeMap<String, Mode> = plan
            .reads
            .iter()
            .map(String::as_str)
            .filter(execution)
            .map(|n| (n.to_string(), Mode::Shared))
            .collect();
        let iterated = iteration
            .iter()
            .flat_map(|it| it.names.iter().map(String::as_str));
        let writes: BTreeSet<String> = plan
            .writes()
            .filter(execution)
            .chain(iterated)
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
        if let Some(it) = iteration {
            rmw.insert(it.count_name().to_string());
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

/// What gets stored, in order; a later entry of a name replaces an earlier one in place.
#[derive(Default)]
struct Stored {
    entries: Vec<(String, VarType, OutValue)>,
    index: HashMap<String, usize>,
}

impl Stored {
    fn put(&mut self, name: String, var_type: VarType, value: OutValue) {
        match self.index.get(&name) {
            Some(&at) => self.entries[at] = (name, var_type, value),
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push((name, var_type, value));
            }
        }
    }
}

impl Call<'_> {
    pub(crate) fn render(self) -> PgJsonb {
        let limits = guc::limits();
        let skip = guc::skip_errors();
        let conn = Connection::open();
        let life = Lifetime::new();

        let context = context_doc(self.context, &life);
        let config = self.config.map(|c| c.doc(&life));
        let entries = block::parse(config.as_ref(), self.phase, &limits).or_raise();
        if entries.is_empty() && self.iteration.is_none() {
            return conn.in_caller(|| jsonb::build(&OutValue::Object(Vec::new())));
        }

        let store = Arc::new(PgStore::new(self.execution_id, (*life).clone()));
        let scope = self.scope(context, store.clone(), &life);
        let plan = render::plan(entries, &scope);

        let access = Access::of(&plan, self.iteration.as_ref());
        // Held until the transaction ends, whatever happens to this value.
        let _locks = Locks::acquire(self.execution_id, &access.request).or_raise();
        store.prefetch(&access, self.step);

        let mut stored = Stored::default();
        if let Some(it) = &self.iteration {
            self.record_iteration(it, &scope, &store, &life, &mut stored);
        }

        let settings = Settings {
            limits,
            stop_on_error: !skip,
        };
        for outcome in render::evaluate(&plan, &scope, &settings).or_raise() {
            match outcome.value {
                Ok(value) => stored.put(outcome.name, VarType::StepResult, value),
                Err(err) if skip => errors::warn(&skipping(err)),
                Err(err) => errors::raise(err),
            }
        }
        self.write(stored, &store, skip, &conn)
    }

    /// What the block's templates see: the step's result, its context, `item` of an
    /// iteration, and the execution's variables through `store`.
    fn scope(
        &self,
        context: Option<DocRef>,
        store: Arc<PgStore>,
        life: &Arc<Lifetime>,
    ) -> Arc<Scope> {
        let this = match self.phase {
            Phase::Before => None,
            // A missing result is a JSON null envelope: `this` is null, `result` is null.
            Phase::After => Some(self.result.map(|r| r.doc(life)).unwrap_or_else(doc::null)),
        };
        let extra = match &self.iteration {
            Some(it) => vec![("item".to_string(), it.item_doc(life))],
            None => Vec::new(),
        };
        Arc::new(Scope::new(
            self.execution_id,
            self.step,
            this,
            context,
            extra,
            VarsState::new(store),
        ))
    }

    /// The iterator variables of an iteration, visible to its block as `vars.{step}_*`.
    fn record_iteration(
        &self,
        it: &Iteration,
        scope: &Scope,
        store: &PgStore,
        life: &Arc<Lifetime>,
        stored: &mut Stored,
    ) {
        let values = [
            OutValue::Int(it.index as i64),
            OutValue::Doc(it.item_doc(life)),
            it.total.map_or(OutValue::Null, |t| OutValue::Int(t as i64)),
            OutValue::Int(next_count(store.get(it.count_name()), it.count_name())),
        ];
        for (name, value) in it.names.iter().zip(values) {
            scope.vars.assign(name, &value);
            stored.put(name.clone(), VarType::IteratorState, value);
        }
    }

    /// Checks sizes, stores what the block produced and returns it.
    fn write(&self, stored: Stored, store: &PgStore, skip: bool, conn: &Connection) -> PgJsonb {
        let mut kept = Vec::with_capacity(stored.entries.len());
        let mut types = Vec::with_capacity(stored.entries.len());
        for (n, (name, var_type, value)) in stored.entries.into_iter().enumerate() {
            if n % 1024 == 1023 {
                pgrx::check_for_interrupts!();
            }
            let what = || format!("step {}, variable {}", quote(self.step), quote(&name));
            if let Err(err) = args::check_output_value(&value, what) {
                if skip && var_type == VarType::StepResult {
                    errors::warn(&skipping(err));
                    continue;
                }
                errors::raise(err);
            }
            types.push((name.clone(), var_type));
            kept.push((name, value));
        }
        // Placeholders of variables that were skipped go again.
        let written: BTreeSet<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
        store.remove_placeholders(&written);
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
            table::upsert_object(self.execution_id, out, types, Some(self.step));
        }
        out
    }
}

/// The `context` argument as a document, checked.
pub(crate) fn context_doc(context: Option<PgJsonb>, life: &Arc<Lifetime>) -> Option<DocRef> {
    let context = context.map(|c| c.doc(life));
    if let Some(ctx) = &context {
        check_context(ctx);
    }
    context
}

/// `context` must be an object (or SQL NULL, which is none).
fn check_context(context: &DocRef) {
    if !matches!(context.view(), View::Object(_)) {
        Error::invalid(format!(
            "context must be a JSON object, not {}",
            block::describe(&context.view())
        ))
        .with_hint("pass {\"workload\": {…}, \"results\": {…}, …}, or '{}' for none")
        .raise();
    }
}

/// `{step}_count` after this iteration.
fn next_count(stored: Option<DocRef>, name: &str) -> i64 {
    match stored.as_ref().map(|d| d.view()) {
        None => 1,
        Some(View::Number(Number::Int(n))) => n.checked_add(1).unwrap_or_else(|| {
            Error::new(
                ErrorKind::NumberOutOfRange,
                format!("the stored {} is at the bigint maximum", quote(name)),
            )
            .with_hint("delete it with noetl.delete_var to restart the count")
            .raise()
        }),
        Some(other) => Error::invalid(format!(
            "the stored {} is {}, not an integer count",
            quote(name),
            block::describe(&other)
        ))
        .with_hint("delete it with noetl.delete_var to restart the count")
        .raise(),
    }
}

pub(crate) fn skipping(err: Error) -> Error {
    Error {
        message: format!("skipped: {}", err.message),
        ..err
    }
}
