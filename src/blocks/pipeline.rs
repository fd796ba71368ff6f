//! The one pipeline every block runs, in the caller's transaction: parse the block, plan what
//! it reads and writes and in which order, lock all of it first (in one order, see
//! [`crate::backend::locks`]), load what it reads (rows it reads and writes row-locked, so plain-SQL
//! writers wait too), evaluate it in the core, and store what it produced in one upsert per
//! table. What differs between kinds of block is a [`BlockKind`].

use std::sync::Arc;

use noetl_vars_core::block::{self, Entry};
use noetl_vars_core::context::Scope;
use noetl_vars_core::doc::{DocRef, View};
use noetl_vars_core::limits::Limits;
use noetl_vars_core::output::OutValue;
use noetl_vars_core::render::{self, Outcome, Plan, Settings};
use noetl_vars_core::stack;
use noetl_vars_core::ttl::{BlockTtl, Ttl};
use noetl_vars_core::validate::quote;
use noetl_vars_core::Error;

use super::Access;
use crate::backend::errors::{OrRaise, Raise};
use crate::backend::guc;
use crate::backend::locks::Locks;
use crate::storage::events::{self, Applied, EventCall};
use crate::storage::jsonb::{self, Lifetime, PgJsonb};
use crate::storage::sealed::{self, Row};
use crate::storage::spi::Connection;
use crate::storage::table::Expiry;
use crate::storage::vars_store::{self, PgStore};

/// What one kind of block does at each step of [`run`].
pub(crate) trait BlockKind {
    /// The execution the call is for (its variables are `vars` / `ctx`).
    fn execution_id(&self) -> i64;

    /// The block's entries, its arguments checked; `life` holds the documents.
    fn parse(&mut self, life: &Arc<Lifetime>, limits: &Limits) -> Vec<Entry>;

    /// The call's event, when it was given an `event_id`: the call then applies at most once.
    fn event(&self) -> Option<EventCall> {
        None
    }

    /// Whether a call without entries still writes something (an iteration's counters).
    fn writes_without_entries(&self) -> bool {
        false
    }

    /// What the block's templates see; `store` reads the execution's variables.
    fn scope(&mut self, store: Arc<PgStore>, life: &Arc<Lifetime>) -> Arc<Scope>;

    /// What the block may read and write. Anything the caller may not do is refused here,
    /// before a lock is taken.
    fn access(&self, plan: &Plan) -> Access;

    /// Loads what the block reads, the locks held.
    fn prefetch(&mut self, plan: &Plan, access: &Access, store: &PgStore);

    /// Stores what the block produced and returns the function's result (built in the
    /// caller's memory context through `conn`).
    fn write(
        self,
        outcomes: Vec<Outcome>,
        store: &PgStore,
        skip: bool,
        conn: &Connection,
    ) -> PgJsonb;
}

/// Runs one call of a block; with an event id, at most once per id (a later call returns the
/// first one's result and writes nothing).
pub(crate) fn run(kind: impl BlockKind) -> PgJsonb {
    let conn = Connection::open();
    let execution_id = kind.execution_id();
    let Some(event) = kind.event() else {
        return apply(kind, &conn);
    };
    match events::claim(execution_id, &event) {
        None => {
            let sealed_before = sealed::seals();
            let out = apply(kind, &conn);
            // A result that holds values sealed in the tables is recorded sealed too.
            let recorded = if sealed::seals() == sealed_before {
                out
            } else {
                sealed::seal_result(execution_id, &event.id, out)
            };
            events::record(execution_id, &event, recorded);
            out
        }
        Some(earlier) => earlier_result(earlier, execution_id, &event, &conn),
    }
}

/// The result of an earlier call with the same event id, if it was the same call.
fn earlier_result(
    earlier: Applied,
    execution_id: i64,
    event: &EventCall,
    conn: &Connection,
) -> PgJsonb {
    let (id, function, step) = (&event.id, event.function, event.step.as_str());
    if earlier.function != function || earlier.step != step || !earlier.same_block {
        let this = if earlier.function == function && earlier.step == step {
            "another block".to_string()
        } else {
            format!("{function} of step {}", quote(step))
        };
        Error::invalid(format!(
            "event_id {} was applied by {} of step {}, not by {this}",
            quote(id),
            earlier.function,
            quote(&earlier.step),
        ))
        .with_hint("an event id names one event: give each event its own, and every delivery of it the same")
        .raise();
    }
    let Some(result) = earlier.result else {
        pgrx::error!("noetl_vars: event {} has no recorded result", quote(id));
    };
    let row = Row::Event {
        execution_id,
        event_id: id,
    };
    conn.in_caller(|| {
        // SAFETY: a non-null jsonb column of the row just read.
        let recorded = unsafe { PgJsonb::copy_of(result) };
        sealed::open(&row, "", recorded)
    })
}

/// Applies one call of a block.
fn apply(mut kind: impl BlockKind, conn: &Connection) -> PgJsonb {
    // Parsing and evaluating each run on the evaluation stack; its deep pages are checked
    // for once, when the call ends (one system call instead of one per evaluation).
    let _stack = stack::release_at_end();
    let limits = guc::limits();
    let skip = guc::skip_errors();
    let life = Lifetime::new();

    let entries = kind.parse(&life, &limits);
    if entries.is_empty() && !kind.writes_without_entries() {
        return conn.in_caller(|| jsonb::build(&OutValue::Object(Vec::new())));
    }
    let store = Arc::new(PgStore::new(kind.execution_id(), (*life).clone()));
    let scope = kind.scope(store.clone(), &life);
    let plan = render::plan(entries, &scope);

    let access = kind.access(&plan);
    // Held until the transaction ends, whatever happens to this value.
    let _locks = Locks::acquire(kind.execution_id(), &access.request).or_raise();
    vars_store::hold_placement(kind.execution_id());
    kind.prefetch(&plan, &access, &store);

    let settings = Settings {
        limits,
        stop_on_error: !skip,
    };
    let outcomes = render::evaluate(&plan, &scope, &settings).or_raise();
    kind.write(outcomes, &store, skip, conn)
}

/// The `context` argument as a document: an object, or SQL NULL for none.
pub(crate) fn context_doc(context: Option<PgJsonb>, life: &Arc<Lifetime>) -> Option<DocRef> {
    let context = context.map(|c| c.doc(life));
    if let Some(ctx) = &context {
        if !matches!(ctx.view(), View::Object(_)) {
            Error::invalid(format!(
                "context must be a JSON object, not {}",
                block::describe(&ctx.view())
            ))
            .with_hint("pass {\"workload\": {…}, \"results\": {…}, …}, or '{}' for none")
            .raise();
        }
    }
    context
}

/// A failure that skip mode reports as a warning.
pub(crate) fn skipping(err: Error) -> Error {
    Error {
        message: format!("skipped: {}", err.message),
        ..err
    }
}

/// The lifetimes of one upsert of a block: the block's own `$ttl` for the variables it names
/// (or covers), the call's `ttl` argument for every other variable written.
pub(crate) fn expiry<'a>(
    block: &BlockTtl,
    call: Option<Ttl>,
    names: impl Iterator<Item = &'a str>,
) -> Expiry {
    let own: Vec<(String, OutValue)> = names
        .filter_map(|name| {
            block
                .for_key(name)
                .map(|t| (name.to_string(), OutValue::String(t.interval_text())))
        })
        .collect();
    Expiry {
        all: call,
        each: (!own.is_empty()).then(|| jsonb::build(&OutValue::Object(own))),
    }
}
