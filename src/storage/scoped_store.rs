//! The `set:` scopes beyond the execution's variables ([`crate::storage::scoped_queries`]) as a block's
//! templates read them and as a block writes them: a step's values, an iteration's, a
//! playbook's and the global ones. Read up front once the call holds its locks (the names a
//! block reads and writes row-locked), anything else when asked for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use noetl_vars_core::context::VarStore;
use noetl_vars_core::doc::DocRef;
use pgrx::pg_sys;

use crate::backend::citus;
use crate::backend::locks::fnv;
use crate::storage::datum;
use crate::storage::jsonb::{Lifetime, PgJsonb};
use crate::storage::scoped_queries as q;
use crate::storage::sealed::{self, Row};
use crate::storage::spi::{execute, Query};
use crate::storage::table::{array_arg, int8_arg, text_arg, Arg};

/// Where a scope's values live.
#[derive(Debug, Clone)]
pub(crate) enum Place {
    Step {
        execution_id: i64,
        step: String,
    },
    Iter {
        execution_id: i64,
        step: String,
        iteration: i32,
    },
    Workflow {
        playbook: String,
    },
    Global,
}

fn int4_arg(v: Option<i32>) -> Arg {
    match v {
        Some(v) => (pg_sys::Datum::from(v), false),
        None => (pg_sys::Datum::from(0usize), true),
    }
}

impl Place {
    /// The name templates and `set:` keys use for it.
    pub(crate) fn scope(&self) -> &'static str {
        match self {
            Place::Step { .. } => "step",
            Place::Iter { .. } => "iter",
            Place::Workflow { .. } => "workflow",
            Place::Global => "global",
        }
    }

    /// Its advisory lock key ([`crate::backend::locks`]): the same in every backend, a different
    /// kind byte for each kind of scope.
    pub(crate) fn lock_key(&self) -> u64 {
        match self {
            Place::Step { execution_id, step } => {
                fnv(&[b"s", &execution_id.to_le_bytes(), step.as_bytes()])
            }
            Place::Iter {
                execution_id,
                step,
                iteration,
            } => fnv(&[
                b"i",
                &execution_id.to_le_bytes(),
                &iteration.to_le_bytes(),
                step.as_bytes(),
            ]),
            Place::Workflow { playbook } => fnv(&[b"w", playbook.as_bytes()]),
            Place::Global => fnv(&[b"g"]),
        }
    }

    /// Its table in schema `noetl`.
    pub(crate) fn table(&self) -> &'static std::ffi::CStr {
        match self {
            Place::Step { .. } | Place::Iter { .. } => c"step_vars",
            Place::Workflow { .. } => c"workflow_vars",
            Place::Global => c"global_vars",
        }
    }

    /// The parameters after `$1` of its reads.
    fn key_args(&self) -> Vec<Arg> {
        match self {
            Place::Step { execution_id, step } => vec![int8_arg(*execution_id), text_arg(step)],
            Place::Iter {
                execution_id,
                step,
                iteration,
            } => vec![
                int8_arg(*execution_id),
                text_arg(step),
                int4_arg(Some(*iteration)),
            ],
            Place::Workflow { playbook } => vec![text_arg(playbook)],
            Place::Global => Vec::new(),
        }
    }

    /// The statement that serializes its writers across Citus nodes; none for a scope of
    /// one execution (its shard is where its calls run).
    fn writers(&self) -> Option<&'static Query> {
        match self {
            Place::Workflow { .. } => Some(&q::WORKFLOW_WRITERS),
            Place::Global => Some(&q::GLOBAL_WRITERS),
            Place::Step { .. } | Place::Iter { .. } => None,
        }
    }

    /// Its reads: plain, row-locked, and of every name.
    fn reads(&self) -> (&'static Query, &'static Query, &'static Query) {
        match self {
            Place::Step { .. } => (&q::STEP_READ, &q::STEP_READ_LOCKED, &q::STEP_NAMES),
            Place::Iter { .. } => (&q::ITER_READ, &q::ITER_READ_LOCKED, &q::ITER_NAMES),
            Place::Workflow { .. } => (
                &q::WORKFLOW_READ,
                &q::WORKFLOW_READ_LOCKED,
                &q::WORKFLOW_NAMES,
            ),
            Place::Global => (&q::GLOBAL_READ, &q::GLOBAL_READ_LOCKED, &q::GLOBAL_NAMES),
        }
    }

    /// The row its variables are stored in, short of their names.
    fn row(&self) -> Row<'_> {
        match self {
            Place::Step { execution_id, step } => Row::Step {
                execution_id: *execution_id,
                step,
                iteration: None,
            },
            Place::Iter {
                execution_id,
                step,
                iteration,
            } => Row::Step {
                execution_id: *execution_id,
                step,
                iteration: Some(*iteration),
            },
            Place::Workflow { playbook } => Row::Workflow(playbook),
            Place::Global => Row::Global,
        }
    }

    /// Writes every member of `values`, for execution `execution_id` in a call given
    /// `playbook`.
    pub(crate) fn upsert(&self, values: PgJsonb, execution_id: i64, playbook: Option<&str>) {
        let values = sealed::seal_members(&self.row(), execution_id, playbook, values);
        let object = (values.datum(), false);
        let (query, args) = match self {
            Place::Step { step, .. } => (
                &q::STEP_UPSERT,
                vec![
                    object,
                    int8_arg(execution_id),
                    text_arg(step),
                    int4_arg(None),
                ],
            ),
            Place::Iter {
                step, iteration, ..
            } => (
                &q::STEP_UPSERT,
                vec![
                    object,
                    int8_arg(execution_id),
                    text_arg(step),
                    int4_arg(Some(*iteration)),
                ],
            ),
            Place::Workflow { playbook } => (
                &q::WORKFLOW_UPSERT,
                vec![object, text_arg(playbook), int8_arg(execution_id)],
            ),
            Place::Global => (&q::GLOBAL_UPSERT, vec![object, int8_arg(execution_id)]),
        };
        execute(query, &args, false);
    }
}

/// One scope's stored values, as templates read them.
pub(crate) struct ScopedStore {
    place: Place,
    life: Arc<Lifetime>,
    // A backend is single-threaded; the Mutex only satisfies `VarStore: Send + Sync`.
    values: Mutex<HashMap<String, Option<DocRef>>>,
}

impl ScopedStore {
    pub(crate) fn new(place: Place, life: Arc<Lifetime>) -> ScopedStore {
        ScopedStore {
            place,
            life,
            values: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn place(&self) -> &Place {
        &self.place
    }

    /// Where Citus is loaded, waits for the other writers of this shared scope, on whichever
    /// node their calls run, and keeps them waiting until this transaction ends; nothing for
    /// a scope of one execution (its rows are where its calls run).
    pub(crate) fn serialize_writers(&self) {
        if let Some(query) = self.place.writers().filter(|_| citus::loaded()) {
            execute(query, &[], false);
        }
    }

    /// Reads `names` (`locked`: row-locked for the caller's write) and remembers them, the
    /// missing ones as missing.
    pub(crate) fn prefetch(&self, names: &[&str], locked: bool) {
        if names.is_empty() {
            return;
        }
        let found = self.read(names, locked);
        if let Ok(mut values) = self.values.lock() {
            for name in names {
                values.entry(name.to_string()).or_insert(None);
            }
            for (name, doc) in found {
                values.insert(name, Some(doc));
            }
        }
    }

    fn read(&self, names: &[&str], locked: bool) -> Vec<(String, DocRef)> {
        let (plain, with_lock, _) = self.place.reads();
        let mut datums: Vec<pg_sys::Datum> = names.iter().map(|n| text_arg(n).0).collect();
        let mut args = vec![array_arg(&mut datums, pg_sys::TEXTOID)];
        args.extend(self.place.key_args());
        let rows = execute(if locked { with_lock } else { plain }, &args, false);
        (0..rows.len())
            .filter_map(|i| {
                // SAFETY: the reads return (var_name text, var_value jsonb), non-null.
                unsafe {
                    let name = datum::text(rows.get(i, 1)?);
                    let value = <PgJsonb as pgrx::FromDatum>::from_datum(rows.get(i, 2)?, false)?;
                    let value = sealed::open(&self.place.row(), &name, value);
                    Some((name, value.doc(&self.life)))
                }
            })
            .collect()
    }
}

impl VarStore for ScopedStore {
    fn get(&self, name: &str) -> Option<DocRef> {
        if let Some(known) = self.values.lock().ok().and_then(|v| v.get(name).cloned()) {
            return known;
        }
        // A name known only at run time: the scope's lock covers it.
        let doc = self.read(&[name], false).into_iter().next().map(|(_, d)| d);
        if let Ok(mut values) = self.values.lock() {
            values.insert(name.to_string(), doc.clone());
        }
        doc
    }

    fn names(&self) -> Vec<String> {
        let (_, _, names) = self.place.reads();
        let mut args = vec![(pg_sys::Datum::from(0usize), true)];
        args.extend(self.place.key_args());
        let rows = execute(names, &args, false);
        (0..rows.len())
            // SAFETY: the statement returns var_name, a non-null text column.
            .filter_map(|i| rows.get(i, 1).map(|d| unsafe { datum::text(d) }))
            .collect()
    }
}
