//! The execution's variables as a block's templates read them (`render_vars`,
//! `render_iteration`): loaded up front once the call holds its locks, with the rows it will
//! write locked and placeholders for the missing ones, anything else loaded on demand.

use std::collections::BTreeSet;

use foldhash::HashMap;
use std::sync::{Arc, Mutex};

use noetl_vars_core::context::VarStore;
use noetl_vars_core::doc::DocRef;

use crate::backend::citus;
use crate::storage::jsonb::Lifetime;
use crate::storage::queries;
use crate::storage::spi::{execute, int8_arg};
use crate::storage::table;

/// The execution's variables as templates read them: read up front after locking, anything
/// else (names known only at run time, enumeration) read when asked for, under the execution
/// lock that covers them.
pub(crate) struct PgStore {
    execution_id: i64,
    life: Arc<Lifetime>,
    // A backend is single-threaded; the Mutexes only satisfy `VarStore: Send + Sync`.
    values: Mutex<HashMap<String, Option<DocRef>>>,
    /// Placeholder rows this call inserted.
    placeholders: Mutex<Vec<String>>,
}

impl PgStore {
    pub(crate) fn new(execution_id: i64, life: Arc<Lifetime>) -> PgStore {
        PgStore {
            execution_id,
            life,
            values: Mutex::new(HashMap::default()),
            placeholders: Mutex::new(Vec::new()),
        }
    }

    fn remember(&self, found: Vec<(String, DocRef)>, names: &[&str]) {
        if let Ok(mut values) = self.values.lock() {
            for name in names {
                values.entry(name.to_string()).or_insert(None);
            }
            for (name, doc) in found {
                values.insert(name, Some(doc));
            }
        }
    }

    /// Reads `names` up front: row-locked for those the block also writes (`rmw`), with a
    /// placeholder row for each of those that does not exist yet.
    pub(crate) fn prefetch(&self, names: &[String], rmw: &BTreeSet<String>, step: &str) {
        let (locked, plain): (Vec<&str>, Vec<&str>) = names
            .iter()
            .map(String::as_str)
            .partition(|n| rmw.contains(*n));
        if !plain.is_empty() {
            self.remember(
                table::read_some(self.execution_id, &plain, false, &self.life),
                &plain,
            );
        }
        if locked.is_empty() {
            return;
        }
        let found = table::read_some(self.execution_id, &locked, true, &self.life);
        let missing: Vec<&str> = locked
            .iter()
            .copied()
            .filter(|n| !found.iter().any(|(f, _)| f == n))
            .collect();
        self.remember(found, &locked);
        for name in missing {
            if table::insert_placeholder(self.execution_id, name, "step_result", Some(step)) {
                if let Ok(mut p) = self.placeholders.lock() {
                    p.push(name.to_string());
                }
            } else {
                // Created and committed by someone else meanwhile: read (and lock) theirs.
                let theirs = table::read_some(self.execution_id, &[name], true, &self.life);
                self.remember(theirs, &[name]);
            }
        }
    }

    /// Deletes the placeholders of variables the call did not write after all.
    pub(crate) fn remove_placeholders(&self, written: &BTreeSet<&str>) {
        let left: Vec<String> = self
            .placeholders
            .lock()
            .map(|p| {
                p.iter()
                    .filter(|n| !written.contains(n.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for name in left {
            table::delete_one(self.execution_id, &name);
        }
    }
}

impl VarStore for PgStore {
    fn get(&self, name: &str) -> Option<DocRef> {
        if let Some(known) = self.values.lock().ok().and_then(|v| v.get(name).cloned()) {
            return known;
        }
        // Not read up front: a name known only at run time, which the execution lock covers.
        let doc = table::read_some(self.execution_id, &[name], false, &self.life)
            .into_iter()
            .next()
            .map(|(_, d)| d);
        if let Ok(mut values) = self.values.lock() {
            values.insert(name.to_string(), doc.clone());
        }
        doc
    }

    /// Every variable, placeholders of this call left out (they are not variables yet).
    fn names(&self) -> Vec<String> {
        let placeholders = self
            .placeholders
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        let mut names = table::names(self.execution_id);
        names.retain(|n| !placeholders.contains(n));
        names
    }
}

/// Where Citus is loaded, holds the placement of `execution_id`'s shard for this transaction
/// before a call reads rows to write them ([`queries::HOLD_PLACEMENT`]); nothing elsewhere.
pub(crate) fn hold_placement(execution_id: i64) {
    if citus::loaded() {
        execute(&queries::HOLD_PLACEMENT, &[int8_arg(execution_id)], false);
    }
}
