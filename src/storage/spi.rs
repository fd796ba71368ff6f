//! SPI with plans prepared once per backend and every value bound as a parameter.
//!
//! The statements live in [`crate::storage::queries`]; they are fully schema-qualified (operators
//! included), so a hostile `search_path` cannot redirect them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;

use pgrx::pg_sys;
use pgrx::IntoDatum;
use pgrx::PgMemoryContexts;

/// An open SPI connection; closed when dropped (also while unwinding from an ERROR). Rows read
/// through it stay valid until then.
pub struct Connection {
    caller: pg_sys::MemoryContext,
}

impl Connection {
    /// Connects to SPI. Every SQL function of the extension starts here, so this is also
    /// where a session whose protected settings were weakened at login is refused.
    pub fn open() -> Connection {
        crate::backend::guard::check();
        // SAFETY: reading the backend's current context has no preconditions.
        let caller = unsafe { pg_sys::CurrentMemoryContext };
        // SAFETY: called from a SQL function, inside a transaction.
        let rc = unsafe { pg_sys::SPI_connect() };
        if rc != pg_sys::SPI_OK_CONNECT as i32 {
            pgrx::error!("noetl_vars: could not connect to SPI (code {rc})");
        }
        OPEN.with(|n| n.set(n.get() + 1));
        Connection { caller }
    }

    /// Runs `f` with the caller's memory context current, for values that must outlive the
    /// connection (what the function returns).
    pub fn in_caller<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the caller's context outlives the connection (it was current before it).
        unsafe { PgMemoryContexts::For(self.caller).switch_to(|_| f()) }
    }
}

/// Whether a function of the extension is running (a [`Connection`] is open): the statements
/// run meanwhile are its own, which check what they write before writing it.
pub fn in_extension_call() -> bool {
    OPEN.with(|n| n.get() > 0)
}

/// Forgets every open connection: a transaction ends with none (no function of the extension
/// commits), so a count left over (it would let plain SQL writes pass unchecked) is cleared.
pub fn forget_open() {
    OPEN.with(|n| n.set(0));
}

impl Drop for Connection {
    fn drop(&mut self) {
        OPEN.with(|n| n.set(n.get().saturating_sub(1)));
        // SAFETY: this connection was opened by SPI_connect and is the innermost one.
        unsafe {
            pg_sys::SPI_finish();
        }
    }
}

/// One statement the extension runs, with the types of its parameters.
pub struct Query {
    pub name: &'static str,
    pub sql: &'static str,
    pub args: &'static [pg_sys::Oid],
}

thread_local! {
    /// Connections open (nested calls open one each).
    static OPEN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    static PLANS: RefCell<HashMap<&'static str, pg_sys::SPIPlanPtr>> = RefCell::new(HashMap::new());
}

fn plan(query: &'static Query) -> pg_sys::SPIPlanPtr {
    if let Some(plan) = PLANS.with(|p| p.borrow().get(query.name).copied()) {
        return plan;
    }
    let sql = CString::new(query.sql).unwrap_or_default();
    let mut types: Vec<pg_sys::Oid> = query.args.to_vec();
    // SAFETY: a NUL-terminated statement and its parameter types, inside an SPI connection
    // (every caller holds one).
    unsafe {
        // Every statement is a point lookup or write by primary key: the generic plan is the
        // right one, and forcing it spares re-planning on every call (with array parameters
        // the plan cache would otherwise keep choosing custom plans). Citus routes a statement
        // by the values of its parameters, which only a plan made for each call has.
        let mode = if crate::backend::citus::loaded() {
            pg_sys::CURSOR_OPT_CUSTOM_PLAN
        } else {
            pg_sys::CURSOR_OPT_GENERIC_PLAN
        };
        let plan = pg_sys::SPI_prepare_cursor(
            sql.as_ptr(),
            types.len() as i32,
            types.as_mut_ptr(),
            mode as i32,
        );
        if plan.is_null() {
            pgrx::error!(
                "noetl_vars: could not prepare internal query {}",
                query.name
            );
        }
        // Kept plans survive the connection and are revalidated by the plan cache when the
        // table changes, so each backend prepares each statement once.
        pg_sys::SPI_keepplan(plan);
        PLANS.with(|p| p.borrow_mut().insert(query.name, plan));
        plan
    }
}

/// Runs `query` with `args` (value, is-null) on the open connection. `read_only` statements
/// see the calling query's snapshot; the others take a fresh one (at READ COMMITTED this is
/// what lets a writer see what the transaction it waited for committed).
pub fn execute(query: &'static Query, args: &[(pg_sys::Datum, bool)], read_only: bool) -> Rows {
    let plan = plan(query);
    let mut values: Vec<pg_sys::Datum> = args.iter().map(|(d, _)| *d).collect();
    let nulls: Vec<std::ffi::c_char> = args
        .iter()
        .map(|(_, null)| if *null { b'n' } else { b' ' } as std::ffi::c_char)
        .collect();
    // A writing statement gets its tables' CHECK constraints read once per backend.
    let _armed = (!read_only).then(crate::backend::check_constraints::arm);
    // SAFETY: a kept plan, one value and one null flag per parameter of its declared types,
    // inside an SPI connection.
    unsafe {
        let rc = pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), read_only, 0);
        if rc < 0 {
            pgrx::error!(
                "noetl_vars: internal query {} failed (SPI code {rc})",
                query.name
            );
        }
        // SPI keeps every result table until SPI_finish, so earlier rows stay readable while
        // later statements run.
        Rows {
            table: pg_sys::SPI_tuptable,
            processed: pg_sys::SPI_processed as usize,
        }
    }
}

/// A parameter's value and whether it is NULL, as SPI takes them.
pub(crate) type Arg = (pg_sys::Datum, bool);

/// A `bigint` parameter.
pub(crate) fn int8_arg(v: i64) -> Arg {
    (pg_sys::Datum::from(v), false)
}

/// A `text` parameter.
pub(crate) fn text_arg(v: &str) -> Arg {
    match v.into_datum() {
        Some(d) => (d, false),
        None => (pg_sys::Datum::from(0usize), true),
    }
}

/// A `text` parameter, NULL for `None`.
pub(crate) fn opt_text_arg(v: Option<&str>) -> Arg {
    match v {
        Some(s) => text_arg(s),
        None => (pg_sys::Datum::from(0usize), true),
    }
}

/// An array parameter of `element`s.
pub(crate) fn array_arg(datums: &mut [pg_sys::Datum], element: pg_sys::Oid) -> Arg {
    // SAFETY: `datums` are valid datums of type `element` (text, a varlena: length -1,
    // not by value, int alignment), and the array is built in the current memory context.
    let array = unsafe {
        pg_sys::construct_array(
            datums.as_mut_ptr(),
            datums.len() as i32,
            element,
            -1,
            false,
            pg_sys::TYPALIGN_INT as std::ffi::c_char,
        )
    };
    (pg_sys::Datum::from(array), false)
}

/// The outcome of one statement.
pub struct Rows {
    table: *mut pg_sys::SPITupleTable,
    processed: usize,
}

impl Rows {
    /// Rows affected (for DML without RETURNING) or returned.
    pub fn processed(&self) -> usize {
        self.processed
    }

    /// Rows returned.
    pub fn len(&self) -> usize {
        if self.table.is_null() {
            0
        } else {
            self.processed
        }
    }

    /// Column `col` (1-based) of row `row`; `None` for SQL NULL.
    pub fn get(&self, row: usize, col: i32) -> Option<pg_sys::Datum> {
        if row >= self.len() {
            return None;
        }
        // SAFETY: `row` is below the number of rows of this result table, which SPI keeps
        // until the connection closes.
        unsafe {
            let tuple = *(*self.table).vals.add(row);
            let mut is_null = false;
            let datum = pg_sys::SPI_getbinval(tuple, (*self.table).tupdesc, col, &mut is_null);
            (!is_null).then_some(datum)
        }
    }
}

/// Each of `queries` takes the execution id as `$1` and filters every reference to a table on
/// it (or inserts it).
#[cfg(test)]
pub(crate) fn assert_confined(queries: &[&Query]) {
    for q in queries {
        assert_eq!(
            q.args.first(),
            Some(&pg_sys::INT8OID),
            "{}: $1 must be the execution id",
            q.name
        );
        // The history's sequence (a row's id) is not a table.
        let tables = q.sql.matches("noetl.transient").count()
            - q.sql.matches("noetl.transient_history_id_seq").count();
        let filters = q
            .sql
            .matches("execution_id OPERATOR(pg_catalog.=) $1")
            .count();
        let inserts = usize::from(
            q.sql.starts_with("INSERT")
                && (q.sql.contains("VALUES ($1,") || q.sql.contains("SELECT $1,")),
        );
        assert!(tables >= 1, "{}: touches no table", q.name);
        assert_eq!(
            filters + inserts,
            tables,
            "{}: every table reference must be confined to execution $1:\n{}",
            q.name,
            q.sql
        );
    }
}
