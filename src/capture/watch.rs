//! Variable watch: each change of an execution variable that a subscription (`noetl.watches`)
//! matches is written to the outbox (`noetl.watch_outbox`) by the change trigger, in the
//! changing transaction, so a rolled-back change leaves nothing and a committed one is never
//! lost (delivery is the worker's, `python -m noetl_vars.watch`; docs/watch.md).
//!
//! Every session keeps the subscriptions in memory. A change to `noetl.watches` fires a
//! statement trigger that invalidates the table's relation cache entry in every session at
//! commit; the callback registered here forgets the kept list, and the next write reads it
//! again. While the list is known to be empty the change trigger does not even fire: that is
//! the whole cost of the feature when nothing subscribes.
//!
//! Values in the outbox are redacted as the API bodies redact them (credentials by name and by
//! shape, always: a webhook receiver is a display), wholly for a variable declared
//! `sensitive`, and only those the subscription asked for are stored.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use noetl_vars_core::output::OutValue;
use noetl_vars_core::redact;
use noetl_vars_core::watch::{Kind, Values, Watch};
use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;

use crate::backend::catalog;
use crate::backend::triggers::{trigger_data, Fires};
use crate::storage::jsonb::{self, Lifetime, PgJsonb};
use crate::storage::spi::{execute, Connection, Query};

enum State {
    /// Not read since the last invalidation: the change trigger fires and reads it.
    Unknown,
    /// The subscriptions of `noetl.watches` (`relid`; `InvalidOid` when the table does not
    /// exist, as before `ALTER EXTENSION … UPDATE`).
    Known { relid: Oid, watches: Rc<Vec<Watch>> },
}

thread_local! {
    static STATE: RefCell<State> = const { RefCell::new(State::Unknown) };
    /// Above zero while a whole execution's variables are being removed.
    static CLEANING: Cell<u32> = const { Cell::new(0) };
}

static LOAD: Query = Query {
    name: "watch_load",
    sql: "SELECT w.watch_id, w.execution_id, w.names, w.kinds, w.include_values \
          FROM noetl.watches w ORDER BY w.watch_id",
    args: &[],
};

/// One row per matching watch in one statement (`$1` the watches; `$8`/`$9` whether each
/// wants the old and the new value), so ten watches cost one executor run, not ten.
static OUTBOX_INSERT: Query = Query {
    name: "watch_outbox_insert",
    sql: "INSERT INTO noetl.watch_outbox \
          (watch_id, execution_id, var_name, kind, operation, old_value, new_value) \
          SELECT u.watch_id, $2, $3, $4, $5, \
                 CASE WHEN u.old THEN $6 END, CASE WHEN u.new THEN $7 END \
          FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($8), pg_catalog.unnest($9)) \
               AS u(watch_id, old, new)",
    args: &[
        pg_sys::INT8ARRAYOID,
        pg_sys::INT8OID,
        pg_sys::TEXTOID,
        pg_sys::TEXTOID,
        pg_sys::TEXTOID,
        pg_sys::JSONBOID,
        pg_sys::JSONBOID,
        pg_sys::BOOLARRAYOID,
        pg_sys::BOOLARRAYOID,
    ],
};

/// Whether a change might match a subscription: the change trigger's `WHEN` asks this per
/// row, so it reads one thread-local and nothing else.
pub fn may_match() -> bool {
    STATE.with(|s| match &*s.borrow() {
        State::Unknown => true,
        State::Known { watches, .. } => !watches.is_empty(),
    })
}

/// Marks the removal of a whole execution's variables (`cleanup_execution`, `vars_cleanup`,
/// `purge_stale`) while it lives: its deletes are changes of kind `cleanup`.
pub struct Cleanup(());

impl Cleanup {
    pub fn begin() -> Cleanup {
        CLEANING.with(|c| c.set(c.get() + 1));
        Cleanup(())
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        CLEANING.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// The kind of a delete: `cleanup` inside [`Cleanup`], `expire` for a variable whose lifetime
/// had ended, `delete` otherwise.
pub fn delete_kind(expired: bool) -> Kind {
    if CLEANING.with(Cell::get) > 0 {
        Kind::Cleanup
    } else if expired {
        Kind::Expire
    } else {
        Kind::Delete
    }
}

/// The subscriptions, read from `noetl.watches` when not known. Runs inside the change
/// trigger, with the extension owner's rights.
fn watches() -> Rc<Vec<Watch>> {
    if let Some(known) = STATE.with(|s| match &*s.borrow() {
        State::Known { watches, .. } => Some(Rc::clone(watches)),
        State::Unknown => None,
    }) {
        return known;
    }
    let (relid, list) = match catalog::noetl_relation(c"watches") {
        Some(relid) => (relid, load()),
        None => (pg_sys::InvalidOid, Vec::new()),
    };
    let list = Rc::new(list);
    STATE.with(|s| {
        *s.borrow_mut() = State::Known {
            relid,
            watches: Rc::clone(&list),
        }
    });
    list
}

fn load() -> Vec<Watch> {
    let _conn = Connection::open();
    let rows = execute(&LOAD, &[], true);
    let texts = |row: usize, col: i32| -> Option<Vec<String>> {
        let datum = rows.get(row, col)?;
        // SAFETY: the column is a non-null text[] of this result.
        let items = unsafe { <Vec<Option<String>> as FromDatum>::from_datum(datum, false) }?;
        Some(items.into_iter().flatten().collect())
    };
    (0..rows.len())
        .filter_map(|row| {
            // SAFETY: the fifth column is text, NOT NULL.
            let values = unsafe { crate::storage::datum::text(rows.get(row, 5)?) };
            Some(Watch {
                id: rows.get(row, 1)?.value() as i64,
                execution_id: rows.get(row, 2).map(|d| d.value() as i64),
                names: texts(row, 3),
                kinds: texts(row, 4)?
                    .iter()
                    .filter_map(|k| Kind::parse(k))
                    .collect(),
                values: Values::parse(&values)?,
            })
        })
        .collect()
}

/// One changed variable, as the change trigger saw it.
pub struct Change<'a> {
    pub execution_id: i64,
    pub name: &'a str,
    pub kind: Kind,
    /// `insert`, `update` or `delete`.
    pub operation: &'a str,
    pub old: Option<pg_sys::Datum>,
    pub new: Option<pg_sys::Datum>,
    /// Whether the variable is declared `sensitive` (asked only when a watch matches).
    pub sensitive: &'a dyn Fn() -> bool,
}

/// Writes `change` to the outbox once per subscription that matches it.
pub fn capture(change: &Change) {
    let watches = watches();
    let matching: Vec<&Watch> = watches
        .iter()
        .filter(|w| w.matches(change.execution_id, change.name, change.kind))
        .collect();
    if matching.is_empty() {
        return;
    }
    let _conn = Connection::open();
    let life = Lifetime::new();
    // A variable declared sensitive is redacted whole.
    let sensitive = (change.sensitive)();
    let shown = |datum: Option<pg_sys::Datum>| {
        datum.map(|d| {
            if sensitive {
                return jsonb::build(&OutValue::String(redact::REDACTED.into()));
            }
            // SAFETY: the trigger passes jsonb datums of the row versions it fires for.
            let doc = unsafe { PgJsonb::copy_of(d) }.doc(&life);
            jsonb::build(&redact::redact(change.name, &doc))
        })
    };
    // Redacted and built only when some watch wants it.
    let wanted = |want: fn(Values) -> bool, datum| {
        if matching.iter().any(|w| want(w.values)) {
            shown(datum)
        } else {
            None
        }
    };
    let (old, new) = (
        wanted(Values::old, change.old),
        wanted(Values::new_value, change.new),
    );
    let null = (pg_sys::Datum::from(0usize), true);
    let value = |v: &Option<PgJsonb>| v.as_ref().map_or(null, |v| (v.datum(), false));
    let array = |d: Option<pg_sys::Datum>| d.map_or(null, |d| (d, false));
    let ids: Vec<i64> = matching.iter().map(|w| w.id).collect();
    let olds: Vec<bool> = matching.iter().map(|w| w.values.old()).collect();
    let news: Vec<bool> = matching.iter().map(|w| w.values.new_value()).collect();
    execute(
        &OUTBOX_INSERT,
        &[
            array(ids.into_datum()),
            (pg_sys::Datum::from(change.execution_id), false),
            (text(change.name), false),
            (text(change.kind.as_str()), false),
            (text(change.operation), false),
            value(&old),
            value(&new),
            array(olds.into_datum()),
            array(news.into_datum()),
        ],
        false,
    );
}

fn text(s: &str) -> pg_sys::Datum {
    s.into_datum().unwrap_or(pg_sys::Datum::from(0usize))
}

/// Forgets the kept subscriptions when `noetl.watches` is invalidated (or every relation is),
/// and a kept "no table" on any invalidation (the extension may just have been updated).
#[pg_guard]
unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, relid: Oid) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let stale = match &*s {
            State::Known { relid: kept, .. } => {
                *kept == pg_sys::InvalidOid || relid == pg_sys::InvalidOid || *kept == relid
            }
            State::Unknown => false,
        };
        if stale {
            *s = State::Unknown;
        }
    });
}

/// `AFTER … ON noetl.watches FOR EACH STATEMENT`, declared in `sql/watch.sql`: every session
/// reads the subscriptions again once this transaction commits (this one at its next command).
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn watches_changed_wrapper(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: PostgreSQL passes the call's own fcinfo; trigger_data checks it.
    unsafe {
        let data = trigger_data(
            fcinfo,
            "watches_changed",
            &[c"watches"],
            Fires::AfterStatement,
        );
        pg_sys::CacheInvalidateRelcache(data.tg_relation);
    }
    pg_sys::Datum::from(0usize)
}

crate::backend::triggers::function_info_v1!(pg_finfo_watches_changed_wrapper);

/// Forgets cleanup marks left by an aborted transaction.
pub fn reset() {
    CLEANING.with(|c| c.set(0));
}

/// Registers the relation cache callback; called once from `_PG_init`.
pub fn init() {
    // SAFETY: a static function that lives as long as the library.
    unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0usize)) }
}
