//! A step's `vars:` block (docs/reference.md, `render_vars` and `render_iteration`), for `render_vars` and `render_iteration`
//! ([`crate::api`]): the [`BlockKind`] whose templates see the step's result, its context and
//! an iteration's `item`, and whose values (with an iteration's counters) are the execution's
//! variables, stored in one upsert.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use noetl_vars_core::block::{self, Entry};
use noetl_vars_core::context::{Scope, VarStore, VarsState};
use noetl_vars_core::doc::{self, DocRef, Number, View};
use noetl_vars_core::limits::Limits;
use noetl_vars_core::output::OutValue;
use noetl_vars_core::render::{Outcome, Plan};
use noetl_vars_core::ttl::{BlockTtl, Ttl};
use noetl_vars_core::validate::{quote, Phase, VarType};
use noetl_vars_core::{Error, ErrorKind};

use super::{context_doc, expiry, skipping, Access, BlockKind};
use crate::backend::errors::{self, OrRaise, Raise};
use crate::storage::events::EventCall;
use crate::storage::jsonb::{self, Lifetime, PgJsonb};
use crate::storage::scrub;
use crate::storage::spi::Connection;
use crate::storage::table::{self, Types};
use crate::storage::vars_store::PgStore;
use crate::storage::{declarations, value_checks};

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
    /// The `ttl` argument: the lifetime of what the call writes, unless the block's `$ttl`
    /// gives one.
    pub(crate) ttl: Option<Ttl>,
    /// The `event_id` argument: the call applies at most once per id.
    pub(crate) event_id: Option<&'a str>,
}

/// What gets stored, in order; a later entry of a name replaces an earlier one in place.
/// Blocks usually have a handful of names, found by a scan; past [`Stored::SCAN`] an index.
#[derive(Default)]
struct Stored {
    entries: Vec<(String, VarType, OutValue)>,
    index: HashMap<String, usize>,
}

impl Stored {
    const SCAN: usize = 16;

    fn put(&mut self, name: String, var_type: VarType, value: OutValue) {
        let found = if self.entries.len() <= Self::SCAN {
            self.entries.iter().position(|(n, _, _)| *n == name)
        } else {
            self.index.get(&name).copied()
        };
        match found {
            Some(at) => self.entries[at] = (name, var_type, value),
            None => {
                self.entries.push((name, var_type, value));
                if self.entries.len() == Self::SCAN + 1 {
                    let names = self.entries.iter().enumerate();
                    self.index = names.map(|(i, (n, _, _))| (n.clone(), i)).collect();
                } else if self.entries.len() > Self::SCAN + 1 {
                    let at = self.entries.len() - 1;
                    self.index.insert(self.entries[at].0.clone(), at);
                }
            }
        }
    }
}

/// A vars block in the pipeline: the call, and what the pipeline's steps hand on.
struct VarsBlock<'a> {
    call: Call<'a>,
    context: Option<DocRef>,
    scope: Option<Arc<Scope>>,
    stored: Stored,
    life: Option<Arc<Lifetime>>,
    /// The block's `$ttl`.
    ttl: BlockTtl,
}

impl BlockKind for VarsBlock<'_> {
    fn execution_id(&self) -> i64 {
        self.call.execution_id
    }

    fn parse(&mut self, life: &Arc<Lifetime>, limits: &Limits) -> Vec<Entry> {
        self.life = Some(life.clone());
        self.context = context_doc(self.call.context, life);
        let config = self.call.config.as_ref();
        let doc = config.map(|c| c.doc(life));
        let bytes = config.map(PgJsonb::bytes);
        let (entries, ttl) =
            block::parse_with_ttl_cached(bytes, doc.as_ref(), self.call.phase, limits).or_raise();
        self.ttl = ttl;
        entries
    }

    fn event(&self) -> Option<EventCall> {
        let (function, extra) = match &self.call.iteration {
            Some(it) => ("render_iteration", it.index.to_string()),
            None => ("render_vars", self.call.phase.as_str().to_string()),
        };
        Some(EventCall::new(
            self.call.event_id?.to_string(),
            function,
            self.call.step.to_string(),
            self.call.config,
            extra,
        ))
    }

    fn writes_without_entries(&self) -> bool {
        self.call.iteration.is_some()
    }

    fn scope(&mut self, store: Arc<PgStore>, life: &Arc<Lifetime>) -> Arc<Scope> {
        let scope = self.call.build_scope(self.context.take(), store, life);
        self.scope = Some(scope.clone());
        scope
    }

    fn access(&self, plan: &Plan) -> Access {
        match &self.call.iteration {
            Some(it) => Access::of(plan, &it.names, Some(it.count_name())),
            None => Access::of(plan, &[], None),
        }
    }

    fn prefetch(&mut self, _plan: &Plan, access: &Access, store: &PgStore) {
        store.prefetch(&access.prefetch, &access.rmw, self.call.step);
        if let (Some(it), Some(scope), Some(life)) = (&self.call.iteration, &self.scope, &self.life)
        {
            self.call
                .record_iteration(it, scope, store, life, &mut self.stored);
        }
    }

    fn write(
        mut self,
        outcomes: Vec<Outcome>,
        store: &PgStore,
        skip: bool,
        conn: &Connection,
    ) -> PgJsonb {
        for outcome in outcomes {
            match outcome.value {
                Ok(value) => self.stored.put(outcome.name, VarType::StepResult, value),
                Err(err) if skip => errors::warn(&skipping(err)),
                Err(err) => errors::raise(err),
            }
        }
        self.call.write(self.stored, &self.ttl, store, skip, conn)
    }
}

impl Call<'_> {
    pub(crate) fn render(self) -> PgJsonb {
        super::run(VarsBlock {
            call: self,
            context: None,
            scope: None,
            stored: Stored::default(),
            life: None,
            ttl: BlockTtl::default(),
        })
    }
    /// What the block's templates see: the step's result, its context, `item` of an
    /// iteration, and the execution's variables through `store`.
    fn build_scope(
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
    fn write(
        &self,
        stored: Stored,
        ttl: &BlockTtl,
        store: &PgStore,
        skip: bool,
        conn: &Connection,
    ) -> PgJsonb {
        let mut kept = Vec::with_capacity(stored.entries.len());
        let mut types = Vec::with_capacity(stored.entries.len());
        for (n, (name, var_type, value)) in stored.entries.into_iter().enumerate() {
            if n % 1024 == 1023 {
                pgrx::check_for_interrupts!();
            }
            let what = || format!("step {}, variable {}", quote(self.step), quote(&name));
            // Too large, too deep, or not what the variable is declared as: in skip mode a
            // step result is left out like any other render error.
            let checked = value_checks::check_output_value(&value, what).and_then(|()| {
                let declared = || format!("{}, execution {}", what(), self.execution_id);
                declarations::check(Some(self.execution_id), None, &name, &value, declared)
            });
            if let Err(err) = checked {
                if skip && var_type == VarType::StepResult {
                    errors::warn(&skipping(err));
                    continue;
                }
                errors::raise(err);
            }
            // What is stored (and returned) holds no credential under scrub_secrets.
            let (value, _) = scrub::value(&name, value);
            types.push((name.clone(), var_type));
            kept.push((name, value));
        }
        // Placeholders of variables that were skipped go again.
        let written: BTreeSet<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
        store.remove_placeholders(&written);
        // An iteration's counters are not the block's: only the call's ttl covers them.
        let block_names = types.iter().filter(|(_, t)| *t == VarType::StepResult);
        let expiry = expiry(ttl, self.ttl, block_names.map(|(n, _)| n.as_str()));
        // What the function returns is exactly what it writes: one object, built once.
        let out = conn.in_caller(|| jsonb::build(&OutValue::Object(kept)));
        if !types.is_empty() {
            let (id, step) = (self.execution_id, Some(self.step));
            table::upsert_object(id, out, types_of(types), step, &expiry, None);
        }
        out
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

/// The types of a block's variables as the write takes them: one for all when they agree.
fn types_of(types: Vec<(String, VarType)>) -> Types<'static> {
    if types.iter().all(|(_, t)| *t == VarType::StepResult) {
        Types::All(VarType::StepResult.as_str())
    } else {
        Types::Each(jsonb::build(&OutValue::Object(
            types
                .into_iter()
                .map(|(n, t)| (n, OutValue::String(t.as_str().to_string())))
                .collect(),
        )))
    }
}
