//! NoETL's `set:` block (docs/set-blocks.md), for `apply_set` ([`crate::api`]): the [`BlockKind`] whose
//! keys reach the execution's variables (`ctx.x`, bare `x`), a step's and an iteration's
//! scope, a playbook's and the global one. Besides the execution and its names it locks one
//! key per scope it touches, exclusive when written — the shared scopes (playbook, then
//! global) first, the step's and iteration's last, see [`crate::backend::locks`] — after checking the
//! caller may write them; one upsert per scope stores what it produced.

use std::collections::BTreeSet;
use std::sync::Arc;

use noetl_vars_core::block::Entry;
use noetl_vars_core::context::{EmptyStore, Scope, VarStore, VarsState};
use noetl_vars_core::doc::DocRef;
use noetl_vars_core::limits::Limits;
use noetl_vars_core::output::OutValue;
use noetl_vars_core::render::{Outcome, Plan};
use noetl_vars_core::scopes::{self, SET_SCOPES};
use noetl_vars_core::set::{self, Available};
use noetl_vars_core::ttl::{BlockTtl, Ttl};
use noetl_vars_core::validate::{quote, VarType};

use super::{context_doc, expiry, skipping, Access, BlockKind};
use crate::backend::errors::{self, OrRaise};
use crate::backend::locks::Mode;
use crate::backend::privileges::{self, Use};
use crate::storage::events::EventCall;
use crate::storage::jsonb::{self, Lifetime, PgJsonb};
use crate::storage::scoped_store::{Place, ScopedStore};
use crate::storage::scrub;
use crate::storage::spi::Connection;
use crate::storage::table::{self, Types};
use crate::storage::vars_store::PgStore;
use crate::storage::{declarations, value_checks};

/// One call of `apply_set`.
pub(crate) struct SetCall<'a> {
    pub(crate) execution_id: i64,
    pub(crate) step: &'a str,
    pub(crate) mutations: Option<PgJsonb>,
    pub(crate) context: Option<PgJsonb>,
    pub(crate) iteration: Option<i32>,
    pub(crate) playbook: Option<&'a str>,
    /// The `ttl` argument: the lifetime of the execution variables the call writes, unless
    /// the block's `$ttl` gives one.
    pub(crate) ttl: Option<Ttl>,
    /// The `event_id` argument: the call applies at most once per id.
    pub(crate) event_id: Option<&'a str>,
}

/// What the block produced, by scope, in the order of [`SCOPE_ORDER`].
type Produced = Vec<(&'static str, Vec<(String, OutValue)>)>;

/// The scopes of the returned object, in order.
const SCOPE_ORDER: [&str; 5] = ["ctx", "step", "iter", "workflow", "global"];

/// A `set:` block in the pipeline: the call, and what the pipeline's steps hand on.
struct SetBlock<'a> {
    call: SetCall<'a>,
    context: Option<DocRef>,
    scoped: Vec<Arc<ScopedStore>>,
    /// The block's `$ttl`, by execution variable.
    ttl: BlockTtl,
}

impl BlockKind for SetBlock<'_> {
    fn execution_id(&self) -> i64 {
        self.call.execution_id
    }

    fn event(&self) -> Option<EventCall> {
        Some(EventCall::new(
            self.call.event_id?.to_string(),
            "apply_set",
            self.call.step.to_string(),
            self.call.mutations,
            format!(
                "{}:{}",
                self.call
                    .iteration
                    .map(|i| i.to_string())
                    .unwrap_or_default(),
                self.call.playbook.unwrap_or_default()
            ),
        ))
    }

    fn parse(&mut self, life: &Arc<Lifetime>, limits: &Limits) -> Vec<Entry> {
        self.context = context_doc(self.call.context, life);
        let mutations = self.call.mutations.map(|m| m.doc(life));
        let available = Available {
            iteration: self.call.iteration.is_some(),
            playbook: self.call.playbook.is_some(),
        };
        let bytes = self.call.mutations.as_ref().map(PgJsonb::bytes);
        let (entries, ttl) =
            set::parse_with_ttl_cached(bytes, mutations.as_ref(), available, limits).or_raise();
        self.ttl = ttl;
        entries
    }

    fn scope(&mut self, store: Arc<PgStore>, life: &Arc<Lifetime>) -> Arc<Scope> {
        self.scoped = self
            .call
            .places()
            .into_iter()
            .map(|p| Arc::new(ScopedStore::new(p, life.clone())))
            .collect();
        let context = self.context.take();
        Arc::new(self.call.build_scope(context, store, &self.scoped))
    }

    fn access(&self, plan: &Plan) -> Access {
        for s in &self.scoped {
            check_privileges(plan, s.place());
        }
        // Where Citus runs calls on several nodes, the writers of a shared scope meet first
        // there (docs/scale-out.md), before any lock of this node, as the shared scopes' own
        // locks come first.
        for s in &self.scoped {
            if scope_lock(plan, s.place()).is_some_and(|(_, mode)| mode == Mode::Exclusive) {
                s.serialize_writers();
            }
        }
        access(plan, &self.scoped)
    }

    fn prefetch(&mut self, plan: &Plan, access: &Access, store: &PgStore) {
        store.prefetch(&access.prefetch, &access.rmw, self.call.step);
        for s in &self.scoped {
            prefetch_scope(plan, s);
        }
    }

    fn write(
        self,
        outcomes: Vec<Outcome>,
        store: &PgStore,
        skip: bool,
        conn: &Connection,
    ) -> PgJsonb {
        let produced = by_scope(outcomes, skip);
        self.call
            .write(produced, &self.ttl, store, &self.scoped, skip, conn)
    }
}

impl SetCall<'_> {
    pub(crate) fn apply(self) -> PgJsonb {
        super::run(SetBlock {
            call: self,
            context: None,
            scoped: Vec::new(),
            ttl: BlockTtl::default(),
        })
    }

    /// The scopes this call can reach besides the execution's variables.
    fn places(&self) -> Vec<Place> {
        let mut places = vec![Place::Step {
            execution_id: self.execution_id,
            step: self.step.to_string(),
        }];
        if let Some(iteration) = self.iteration {
            places.push(Place::Iter {
                execution_id: self.execution_id,
                step: self.step.to_string(),
                iteration,
            });
        }
        if let Some(playbook) = self.playbook {
            places.push(Place::Workflow {
                playbook: playbook.to_string(),
            });
        }
        places.push(Place::Global);
        places
    }

    /// What the block's templates see: `ctx` (= `vars`), `step`, `iter` (over what
    /// `context.iter` passes), `workflow`, `global`, and every key of `context`.
    fn build_scope(
        &self,
        context: Option<DocRef>,
        store: Arc<PgStore>,
        scoped: &[Arc<ScopedStore>],
    ) -> Scope {
        let iter_base = context.as_ref().and_then(|c| c.get("iter"));
        let named = SET_SCOPES
            .iter()
            .map(|name| {
                let found = scoped.iter().find(|s| s.place().scope() == *name);
                let store: Arc<dyn VarStore> = match found {
                    Some(s) => s.clone(),
                    None => Arc::new(EmptyStore),
                };
                let base = (*name == "iter").then(|| iter_base.clone()).flatten();
                (*name, VarsState::scoped(store, name, base))
            })
            .collect();
        Scope::new(
            self.execution_id,
            self.step,
            None,
            context,
            Vec::new(),
            VarsState::new(store),
        )
        .with_scopes(named)
    }

    /// Checks sizes, stores what the block produced and returns it by scope.
    fn write(
        &self,
        produced: Produced,
        ttl: &BlockTtl,
        store: &PgStore,
        scoped: &[Arc<ScopedStore>],
        skip: bool,
        conn: &Connection,
    ) -> PgJsonb {
        let mut out: Vec<(String, PgJsonb)> = Vec::new();
        let mut written: BTreeSet<String> = BTreeSet::new();
        for (scope, values) in produced {
            let kept = self.sized(scope, values, skip);
            if scope == "ctx" {
                written.extend(kept.iter().map(|(n, _)| n.clone()));
            }
            if kept.is_empty() {
                continue;
            }
            let stored = jsonb::build(&OutValue::Object(kept));
            match scoped.iter().find(|s| s.place().scope() == scope) {
                Some(s) => s.place().upsert(stored, self.execution_id, self.playbook),
                None => table::upsert_object(
                    self.execution_id,
                    stored,
                    Types::All(VarType::StepResult.as_str()),
                    Some(self.step),
                    &expiry(ttl, self.ttl, written.iter().map(String::as_str)),
                    self.playbook,
                ),
            }
            // The response holds the values as written (in clear: sealing makes a copy).
            out.push((scope.to_string(), stored));
        }
        // Placeholders of execution variables that were skipped go again.
        store.remove_placeholders(&written.iter().map(String::as_str).collect());
        conn.in_caller(|| jsonb::object_of(&out))
    }

    /// The values of one scope within `noetl_vars.max_value_bytes`; in skip mode the others
    /// are left out with a warning.
    fn sized(
        &self,
        scope: &str,
        values: Vec<(String, OutValue)>,
        skip: bool,
    ) -> Vec<(String, OutValue)> {
        let mut kept = Vec::with_capacity(values.len());
        for (n, (name, value)) in values.into_iter().enumerate() {
            if n % 1024 == 1023 {
                pgrx::check_for_interrupts!();
            }
            let what = || {
                format!(
                    "step {}, key {}",
                    quote(self.step),
                    quote(&format!("{scope}.{name}"))
                )
            };
            // Too large, too deep, or not what the variable is declared as.
            let checked = value_checks::check_output_value(&value, what).and_then(|()| {
                let declared = || format!("{}, execution {}", what(), self.execution_id);
                let (execution_id, playbook) = (Some(self.execution_id), self.playbook);
                declarations::check(execution_id, playbook, &name, &value, declared)
            });
            match checked {
                // What is stored (and returned) holds no credential under scrub_secrets.
                Ok(()) => kept.push((name.clone(), scrub::value(&name, value).0)),
                Err(err) if skip => errors::warn(&skipping(err)),
                Err(err) => errors::raise(err),
            }
        }
        kept
    }
}

/// What the block may read and write: the execution's variables as for a vars block, and one
/// lock per other scope it touches.
fn access(plan: &Plan, scoped: &[Arc<ScopedStore>]) -> Access {
    let mut access = Access::of(plan, &[], None);
    for s in scoped {
        if let Some(lock) = scope_lock(plan, s.place()) {
            match s.place() {
                // In `places()` order: the playbook's before the global one.
                Place::Workflow { .. } | Place::Global => access.request.shared.push(lock),
                Place::Step { .. } | Place::Iter { .. } => access.request.scopes.push(lock),
            }
        }
    }
    access
}

/// The values the block produced, by scope; failures raised, or warned about in skip mode.
fn by_scope(outcomes: Vec<Outcome>, skip: bool) -> Produced {
    let mut produced: Produced = SCOPE_ORDER.iter().map(|s| (*s, Vec::new())).collect();
    for outcome in outcomes {
        match outcome.value {
            Ok(value) => {
                let (scope, name) = scopes::split(&outcome.name);
                let scope = scope.unwrap_or("ctx");
                if let Some((_, values)) = produced.iter_mut().find(|(s, _)| *s == scope) {
                    values.push((name.to_string(), value));
                }
            }
            Err(err) if skip => errors::warn(&skipping(err)),
            Err(err) => errors::raise(err),
        }
    }
    produced
}

/// The lock a block needs on `place`: exclusive when it writes there, shared when it reads a
/// step's or an iteration's scope. Reading a shared scope takes no lock: a role that may only
/// read them must not be able to hold their writers up, and a plain read sees what is
/// committed, as any SELECT does.
fn scope_lock(plan: &Plan, place: &Place) -> Option<(u64, Mode)> {
    let scope = place.scope();
    let prefix = scopes::prefix(scope);
    let shared = matches!(place, Place::Workflow { .. } | Place::Global);
    let mode = if plan.writes().any(|k| k.starts_with(&prefix)) {
        Mode::Exclusive
    } else if shared {
        return None;
    } else if plan.scoped_all.contains(scope) || plan.reads.iter().any(|k| k.starts_with(&prefix)) {
        Mode::Shared
    } else {
        return None;
    };
    Some((place.lock_key(), mode))
}

/// Refuses (42501), before any lock is taken, a block that writes a scope whose table the
/// caller may not write, or reads a step's or an iteration's scope it may not read: in skip
/// mode as well, since no template is at fault.
fn check_privileges(plan: &Plan, place: &Place) {
    let prefix = scopes::prefix(place.scope());
    if let Some(key) = plan.writes().find(|k| k.starts_with(&prefix)) {
        let what = format!("writing {}", scopes::display(key));
        privileges::require(place.table(), Use::Upsert, &what);
    } else if scope_lock(plan, place).is_some() {
        privileges::require(
            place.table(),
            Use::Read,
            &format!("reading {}", place.scope()),
        );
    }
}

/// Reads what the block reads of `store`'s scope, row-locking what it also writes.
fn prefetch_scope(plan: &Plan, store: &ScopedStore) {
    let prefix = scopes::prefix(store.place().scope());
    let writes: BTreeSet<&str> = plan
        .writes()
        .filter_map(|k| k.strip_prefix(prefix.as_str()))
        .collect();
    let (locked, plain): (Vec<&str>, Vec<&str>) = plan
        .reads
        .iter()
        .filter_map(|k| k.strip_prefix(prefix.as_str()))
        .partition(|n| writes.contains(n));
    store.prefetch(&plain, false);
    store.prefetch(&locked, true);
}
