//! Typed variables: the declaration that applies to a write (`noetl.declarations`), and the
//! check of the value against its schema (docs/typed-variables.md).
//!
//! Every write path of the extension checks each value before it writes it, where a check
//! that fails can still be a render error (`on_render_error = 'skip'`). Plain SQL writes are
//! checked by the tables' triggers, which do not fire for the extension's own statements
//! (they were checked already) nor while nothing is declared.
//!
//! Each session keeps what it has looked up: the declared names (so that a write of any
//! other name costs one hash probe), the declaration that applies to each (name, execution,
//! playbook) it has written, and the compiled schemas, within `noetl_vars.schema_cache_memory`.
//! A change to `noetl.declarations` fires a statement trigger that invalidates the table's
//! relation cache entry in every session at commit; the callback here forgets all of it.
//!
//! The declarations are read with the table owner's rights: an application role writes
//! values without being able to read, let alone change, the schemas.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use noetl_vars_core::output::OutValue;
use noetl_vars_core::schema::{self, Schema};
use noetl_vars_core::validate::quote;
use noetl_vars_core::{Error, ErrorKind};
use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;

use crate::backend::errors::{OrRaise, Raise};
use crate::backend::{catalog, guc};
use crate::storage::jsonb::{Lifetime, PgJsonb};
use crate::storage::spi::{self, execute, Connection, Query};

/// The declaration that applies to one write.
pub struct Declared {
    /// `execution 7`, `playbook "p"` or `every execution`: what the declaration is for.
    pub applies_to: String,
    pub schema: Option<Rc<Schema>>,
    /// Declared `sensitive`: its values are never shown (watch deliveries redact them).
    pub sensitive: bool,
}

type Key = (String, Option<i64>, Option<String>);

struct Known {
    relid: Oid,
    names: HashSet<String>,
    resolved: HashMap<Key, Option<Rc<Declared>>>,
    bytes: usize,
}

thread_local! {
    /// `None` until read, and again after every change to the declarations.
    static STATE: RefCell<Option<Known>> = const { RefCell::new(None) };
}

static NAMES: Query = Query {
    name: "declared_names",
    sql: "SELECT DISTINCT d.var_name FROM noetl.declarations d",
    args: &[],
};

/// The most specific declaration of `$1` for execution `$2` and playbook `$3`.
static RESOLVE: Query = Query {
    name: "declaration_resolve",
    sql: "SELECT d.schema, d.execution_id, d.playbook, d.sensitive FROM noetl.declarations d \
          WHERE d.var_name OPERATOR(pg_catalog.=) $1 \
            AND (d.execution_id IS NULL OR d.execution_id OPERATOR(pg_catalog.=) $2) \
            AND (d.playbook IS NULL OR d.playbook OPERATOR(pg_catalog.=) $3) \
          ORDER BY d.execution_id IS NULL, d.playbook IS NULL LIMIT 1",
    args: &[pg_sys::TEXTOID, pg_sys::INT8OID, pg_sys::TEXTOID],
};

/// Whether a write might have a declaration.
pub fn may_apply() -> bool {
    STATE.with(|s| s.borrow().as_ref().is_none_or(|k| !k.names.is_empty()))
}

/// Whether a write the tables' triggers see must be checked here: something is declared,
/// and the write is plain SQL, not one of the extension's own (checked before it was made).
/// Part of the triggers' `WHEN`, asked per row.
pub fn must_check() -> bool {
    !spi::in_extension_call() && may_apply() && !restoring()
}

/// Whether this is a `COPY` (how `pg_restore` loads rows) by a superuser or a role with the
/// rights of the declarations' owner: a dump may hold values stored before their declaration
/// (values are not checked again when declared), and its restore must not fail on them. An
/// application role's `COPY` is checked like its `INSERT`.
fn restoring() -> bool {
    // SAFETY: reads a backend global; the portal, when set, lives for the statement.
    let copy = unsafe {
        let portal = pg_sys::ActivePortal;
        !portal.is_null() && (*portal).commandTag == pg_sys::CommandTag::CMDTAG_COPY
    };
    if !copy {
        return false;
    }
    // The role that ran the COPY (SET ROLE counts, a SECURITY DEFINER trigger does not).
    // SAFETY: no preconditions.
    let user = unsafe { pg_sys::GetOuterUserId() };
    // SAFETY: catalog look-ups inside a transaction.
    let superuser = unsafe { pg_sys::superuser_arg(user) };
    superuser
        || catalog::noetl_relation(c"declarations")
            // SAFETY: as above.
            .is_some_and(|relid| unsafe { pg_sys::has_privs_of_role(user, owner_of(relid)) })
}

/// Checks the new value of variable `name` of `execution_id` (in `playbook`'s scope) that
/// plain SQL wrote to `noetl.{table}`.
///
/// # Safety
/// `value` must be a jsonb datum of the row version being written.
pub unsafe fn check_written(
    table: &str,
    execution_id: Option<i64>,
    playbook: Option<&str>,
    name: &str,
    value: pg_sys::Datum,
) {
    let life = Lifetime::new();
    // SAFETY: the caller's.
    let stored = unsafe { PgJsonb::copy_of(value) };
    let what = || match execution_id {
        Some(id) => format!("variable {} of execution {id} (noetl.{table})", quote(name)),
        None => format!("variable {} (noetl.{table})", quote(name)),
    };
    // An encrypted value was checked when it was encrypted; one copied from another row
    // does not decrypt when read.
    if stored.sealed_text().is_some() {
        return;
    }
    if applying(execution_id, playbook, name).is_some_and(|d| d.sensitive) {
        Error::new(
            ErrorKind::SchemaViolation,
            format!(
                "{} is declared sensitive: plain SQL may not write its value in clear",
                what()
            ),
        )
        .with_hint(
            "write it with noetl.set_var (or another function of noetl_vars), which encrypts it",
        )
        .raise();
    }
    let doc = stored.doc(&life);
    check(execution_id, playbook, name, &OutValue::Doc(doc), what).or_raise();
}

/// Checks `value`, to be written as variable `name` of `execution_id` (in a call given
/// `playbook`), against the declaration that applies; `what` names it in the error.
pub fn check(
    execution_id: Option<i64>,
    playbook: Option<&str>,
    name: &str,
    value: &OutValue,
    what: impl FnOnce() -> String,
) -> Result<(), Error> {
    let Some(declared) = applying(execution_id, playbook, name) else {
        return Ok(());
    };
    let Some(schema) = &declared.schema else {
        return Ok(());
    };
    match schema.check(value) {
        None => Ok(()),
        Some(v) => Err(Error::new(
            ErrorKind::SchemaViolation,
            format!(
                "{} does not match its declared schema: keyword \"{}\" fails at {}",
                what(),
                v.keyword,
                if v.path.is_empty() {
                    "the value itself".to_string()
                } else {
                    format!("instance path {}", quote(&v.path))
                }
            ),
        )
        .with_detail(format!("The declaration is for {}.", declared.applies_to))
        .with_hint(format!(
            "SELECT schema FROM noetl.declared_vars WHERE var_name = {} shows the schema",
            pg_literal(name)
        ))),
    }
}

/// Whether variable `name` of `execution_id` is declared `sensitive`.
pub fn is_sensitive(execution_id: i64, name: &str) -> bool {
    applying(Some(execution_id), None, name).is_some_and(|d| d.sensitive)
}

/// The declaration that applies to `name` of `execution_id` in a call given `playbook`.
pub fn applying(
    execution_id: Option<i64>,
    playbook: Option<&str>,
    name: &str,
) -> Option<Rc<Declared>> {
    if !declared_name(name) {
        return None;
    }
    let key: Key = (name.to_string(), execution_id, playbook.map(str::to_string));
    if let Some(found) = STATE.with(|s| {
        s.borrow()
            .as_ref()
            .and_then(|k| k.resolved.get(&key).cloned())
    }) {
        return found;
    }
    let found = resolve(&key).map(Rc::new);
    let bytes = found
        .as_ref()
        .and_then(|d| d.schema.as_ref())
        .map_or(0, |s| s.bytes())
        + key.0.len()
        + 64;
    STATE.with(|s| {
        if let Some(k) = s.borrow_mut().as_mut() {
            if k.bytes + bytes > guc::schema_cache_bytes() {
                k.resolved.clear();
                k.bytes = 0;
            }
            k.bytes += bytes;
            k.resolved.insert(key, found.clone());
        }
    });
    found
}

/// Whether `name` is declared anywhere (reading the declared names when not known).
fn declared_name(name: &str) -> bool {
    if let Some(known) = STATE.with(|s| s.borrow().as_ref().map(|k| k.names.contains(name))) {
        return known;
    }
    let (relid, names) = match catalog::noetl_relation(c"declarations") {
        Some(relid) => (relid, as_owner(relid, load_names)),
        None => (pg_sys::InvalidOid, HashSet::new()),
    };
    let declared = names.contains(name);
    STATE.with(|s| {
        *s.borrow_mut() = Some(Known {
            relid,
            names,
            resolved: HashMap::new(),
            bytes: 0,
        })
    });
    declared
}

fn load_names() -> HashSet<String> {
    let _conn = Connection::open();
    let rows = execute(&NAMES, &[], true);
    (0..rows.len())
        // SAFETY: the only column is text, NOT NULL.
        .filter_map(|i| {
            rows.get(i, 1)
                .map(|d| unsafe { crate::storage::datum::text(d) })
        })
        .collect()
}

fn resolve(key: &Key) -> Option<Declared> {
    let relid = catalog::noetl_relation(c"declarations")?;
    as_owner(relid, || {
        let _conn = Connection::open();
        let life = Lifetime::new();
        let null = (pg_sys::Datum::from(0usize), true);
        let text = |s: &str| (s.into_datum().unwrap_or(pg_sys::Datum::from(0usize)), false);
        let rows = execute(
            &RESOLVE,
            &[
                text(&key.0),
                key.1.map_or(null, |id| (pg_sys::Datum::from(id), false)),
                key.2.as_deref().map_or(null, text),
            ],
            true,
        );
        if rows.len() == 0 {
            return None;
        }
        let schema = rows.get(0, 1).map(|d| {
            // SAFETY: the first column is jsonb.
            let doc = unsafe { PgJsonb::copy_of(d) }.doc(&life);
            compiled(&OutValue::Doc(doc), &key.0)
        });
        let applies_to = match (rows.get(0, 2), rows.get(0, 3)) {
            (Some(id), _) => format!("execution {}", id.value() as i64),
            // SAFETY: the third column is text.
            (None, Some(p)) => format!(
                "playbook {}",
                quote(&unsafe { crate::storage::datum::text(p) })
            ),
            (None, None) => "every execution".to_string(),
        };
        let sensitive = rows.get(0, 4).is_some_and(|d| d.value() != 0);
        Some(Declared {
            applies_to,
            schema,
            sensitive,
        })
    })
}

/// A stored schema, compiled. It was checked when declared; one that no longer compiles (a
/// newer crate refusing it) is an error naming the variable, not a silent pass.
fn compiled(schema: &OutValue, name: &str) -> Rc<Schema> {
    match schema::compile_value(schema) {
        Ok(s) => Rc::new(s),
        Err(refused) => Error::new(
            ErrorKind::PrerequisiteState,
            format!(
                "the declared schema of variable {} no longer compiles: {}",
                quote(name),
                refused.reason
            ),
        )
        .with_hint("declare the variable again with noetl.declare_var")
        .raise(),
    }
}

/// Runs `f` with the rights of the owner of relation `relid` (as a `SECURITY DEFINER`
/// function would), then with the caller's again, also when `f` raises an error.
fn as_owner<R>(relid: Oid, f: impl FnOnce() -> R) -> R {
    struct Restore(Oid, i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores what GetUserIdAndSecContext returned below.
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) }
        }
    }
    let owner = owner_of(relid);
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    // SAFETY: out-parameters of the right types; no preconditions.
    unsafe { pg_sys::GetUserIdAndSecContext(&mut user, &mut context) };
    let _restore = Restore(user, context);
    // SAFETY: switching to an existing role for a fixed, schema-qualified statement, as
    // SECURITY DEFINER does; restricted, so no code of another role runs meanwhile.
    unsafe {
        pg_sys::SetUserIdAndSecContext(
            owner,
            context
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        )
    };
    f()
}

/// The owner of relation `relid`, which exists (the caller just found it).
fn owner_of(relid: Oid) -> Oid {
    // SAFETY: a relation cache look-up inside a transaction; the entry is closed before
    // anything else runs.
    unsafe {
        let rel = pg_sys::RelationIdGetRelation(relid);
        if rel.is_null() {
            pgrx::error!("noetl_vars: relation {relid:?} disappeared");
        }
        let owner = (*(*rel).rd_rel).relowner;
        pg_sys::RelationClose(rel);
        owner
    }
}

/// `s` as a SQL string literal, for a hint.
fn pg_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Forgets everything when `noetl.declarations` is invalidated (or every relation is), and a
/// kept "no table" on any invalidation (the extension may just have been updated).
#[pg_guard]
unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, relid: Oid) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let stale = s.as_ref().is_some_and(|k| {
            k.relid == pg_sys::InvalidOid || relid == pg_sys::InvalidOid || k.relid == relid
        });
        if stale {
            *s = None;
        }
    });
}

/// Registers the relation cache callback; called once from `_PG_init`.
pub fn init() {
    // SAFETY: a static function that lives as long as the library.
    unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0usize)) }
}
