//! CHECK constraints of the tables the extension writes, read back once per backend.
//!
//! PostgreSQL prepares a table's CHECK constraints again in every statement that writes it:
//! it reads each one back from its stored text (`stringToNode`) and plans it when the
//! statement checks its first row. On `noetl.transient` the reading alone costs about 66,000
//! instructions per statement: the value lists of the type check and of NoETL's scope check
//! are stored as array constants, which are read back byte by byte (callgrind,
//! docs/benchmarks.md), a fifth of the upsert of a typical step.
//!
//! Here what PostgreSQL builds from a constraint's text is kept per backend, keyed by that
//! text, which it depends on alone: the node tree read from it, and, where planning it only
//! looks up the functions of its operators (nothing folded or inlined, which would depend on
//! the catalog of the moment), the planned tree. An executor-start hook hands them to the
//! extension's own writing statements (only those: [`arm`]) before their first row: for each
//! constraint of each table the statement writes, the kept planned tree is prepared for the
//! statement (as the executor prepares the trees of a cached plan, which it never changes),
//! or a copy of the kept node tree is planned and prepared there, exactly as PostgreSQL does
//! with the tree it reads. So the constraints checked are the table's at that moment
//! (compared by their whole text at every statement), planned as PostgreSQL plans them. Kept
//! trees are never freed, since a running statement may use them; the cache is bounded
//! ([`MAX_TEXTS`], [`MAX_BYTES`]) and, once full, leaves further texts to PostgreSQL. So is a
//! table this does not handle (PostgreSQL 18's virtual generated columns; a constraint count
//! the catalog does not confirm). TimescaleDB fills the same field itself for the chunks it
//! inserts into.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, CStr};

use pgrx::pg_guard;
use pgrx::pg_sys;

use crate::backend::citus;

/// The most constraint texts kept, and of their bytes: a session that runs more DDL than
/// that has its further constraints prepared by PostgreSQL, as without the cache.
const MAX_TEXTS: usize = 64;
const MAX_BYTES: usize = 1 << 20;

thread_local! {
    /// Set by [`arm`] for the next statement the executor starts.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache { context: std::ptr::null_mut(), kept: Vec::new(), bytes: 0 })
    };
}

/// What was built from constraint texts, in a memory context of its own.
struct Cache {
    context: pg_sys::MemoryContext,
    kept: Vec<Kept>,
    bytes: usize,
}

/// What one constraint text gives.
struct Kept {
    text: Box<[u8]>,
    /// The planned tree if `planned`, else the tree read from the text.
    tree: *mut pg_sys::Expr,
    planned: bool,
}

/// The hook that was installed before this one (another extension's), called in turn.
static mut PREVIOUS: pg_sys::ExecutorStart_hook_type = None;

// PostgreSQL's own executor start, called without pgrx's error guard: an ERROR raised there
// must reach PostgreSQL's handler as it was raised; the hook's frame holds nothing to drop.
unsafe extern "C-unwind" {
    #[link_name = "standard_ExecutorStart"]
    fn standard_executor_start_unguarded(query_desc: *mut pg_sys::QueryDesc, eflags: c_int);
}

/// Marks the next statement the executor starts as the extension's own, until dropped.
pub(crate) struct Armed(());

/// Arms the hook for the statement about to run (`storage::spi`).
pub(crate) fn arm() -> Armed {
    // With Citus the statement's table may be distributed: its executor is Citus's.
    ARMED.with(|a| a.set(!citus::loaded()));
    Armed(())
}

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED.with(|a| a.set(false));
    }
}

/// The hook. Not `#[pg_guard]`ed, so that an error of the executor's start passes through
/// untouched; the cache's own work runs in [`prepare`], which is.
unsafe extern "C-unwind" fn executor_start(query_desc: *mut pg_sys::QueryDesc, eflags: c_int) {
    // Taken before the start: a statement run while this one starts is not the extension's.
    let ours = ARMED.with(|a| a.replace(false));
    // SAFETY: the executor's arguments, passed on unchanged; PREVIOUS is only written by
    // `init`, before any statement runs.
    unsafe {
        match PREVIOUS {
            Some(previous) => previous(query_desc, eflags),
            None => standard_executor_start_unguarded(query_desc, eflags),
        }
        if ours && eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int == 0 {
            prepare(query_desc);
        }
    }
}

/// Prepares the CHECK constraints of every table the started statement writes.
#[pg_guard]
unsafe extern "C-unwind" fn prepare(query_desc: *mut pg_sys::QueryDesc) {
    // SAFETY: a statement the executor has just started: its state and the list of its
    // result relations (each open, with its descriptor) are valid.
    unsafe {
        let estate = (*query_desc).estate;
        if estate.is_null() || (*estate).es_opened_result_relations.is_null() {
            return;
        }
        let rels = (*estate).es_opened_result_relations;
        for i in 0..(*rels).length as usize {
            let rri = (*(*rels).elements.add(i)).ptr_value as *mut pg_sys::ResultRelInfo;
            prepare_relation(rri, estate);
        }
    }
}

/// The constraint expressions of one result relation, as `ExecRelCheck` would build them,
/// unless they are built already or the relation is one this leaves to PostgreSQL.
///
/// # Safety
/// `rri` is a result relation of the statement whose state is `estate`.
unsafe fn prepare_relation(rri: *mut pg_sys::ResultRelInfo, estate: *mut pg_sys::EState) {
    // SAFETY: the caller's; the relation's descriptor and constraints live as long as it is
    // open; the array is allocated in the statement's memory, as PostgreSQL allocates it.
    unsafe {
        let rel = (*rri).ri_RelationDesc;
        let constr = (*(*rel).rd_att).constr;
        if constr.is_null() || (*constr).num_check == 0 || !(*exprs(rri)).is_null() {
            return;
        }
        #[cfg(feature = "pg18")]
        if (*constr).has_generated_virtual {
            return;
        }
        let count = (*constr).num_check as usize;
        if count != (*(*rel).rd_rel).relchecks as usize {
            return;
        }
        let old = pg_sys::MemoryContextSwitchTo((*estate).es_query_cxt);
        let kept = CACHE.with(|c| c.borrow_mut().lookup(constr, count));
        if let Some(kept) = kept {
            let states = pg_sys::palloc0(count * std::mem::size_of::<*mut pg_sys::ExprState>())
                as *mut *mut pg_sys::ExprState;
            for (i, (tree, planned)) in kept.into_iter().enumerate() {
                *states.add(i) = match (tree.is_null(), planned) {
                    (true, _) => std::ptr::null_mut(),
                    (false, true) => pg_sys::ExecInitExpr(tree, std::ptr::null_mut()),
                    // The planner may change the tree it is given: it gets the statement's copy.
                    (false, false) => pg_sys::ExecPrepareExpr(
                        pg_sys::copyObjectImpl(tree.cast()) as *mut pg_sys::Expr,
                        estate,
                    ),
                };
            }
            *exprs(rri) = states;
        }
        pg_sys::MemoryContextSwitchTo(old);
    }
}

/// Where a result relation keeps its prepared CHECK constraints.
///
/// # Safety
/// `rri` is valid.
unsafe fn exprs(rri: *mut pg_sys::ResultRelInfo) -> *mut *mut *mut pg_sys::ExprState {
    // SAFETY: the caller's.
    unsafe {
        #[cfg(not(feature = "pg18"))]
        return &raw mut (*rri).ri_ConstraintExprs;
        #[cfg(feature = "pg18")]
        return &raw mut (*rri).ri_CheckConstraintExprs;
    }
}

impl Cache {
    /// For each of the `count` constraints of `constr`, what is kept of its text (a null tree
    /// for a constraint PostgreSQL does not enforce); `None` when a text is neither kept nor
    /// can be any more.
    ///
    /// # Safety
    /// `constr` is an open relation's, with `count` constraints; called in the statement's
    /// memory context.
    unsafe fn lookup(
        &mut self,
        constr: *mut pg_sys::TupleConstr,
        count: usize,
    ) -> Option<Vec<(*mut pg_sys::Expr, bool)>> {
        (0..count)
            .map(|i| {
                // SAFETY: the caller's.
                unsafe {
                    let check = (*constr).check.add(i);
                    #[cfg(feature = "pg18")]
                    if !(*check).ccenforced {
                        return Some((std::ptr::null_mut(), false));
                    }
                    let kept = self.kept((*check).ccbin)?;
                    Some((kept.tree, kept.planned))
                }
            })
            .collect()
    }

    /// What is kept of the constraint text `text`, built on first use if the cache has room.
    ///
    /// # Safety
    /// `text` is a constraint's stored text (NUL-terminated); called in the statement's
    /// memory context.
    unsafe fn kept(&mut self, text: *const std::ffi::c_char) -> Option<&Kept> {
        // SAFETY: the caller's.
        let bytes = unsafe { CStr::from_ptr(text) }.to_bytes();
        if let Some(i) = self.kept.iter().position(|k| *k.text == *bytes) {
            return Some(&self.kept[i]);
        }
        if self.kept.len() >= MAX_TEXTS || self.bytes + bytes.len() > MAX_BYTES {
            return None;
        }
        // SAFETY: the caller's; read and planned in the statement's memory, and what is kept
        // copied into the cache's context, which lives as long as the backend.
        let (tree, planned) = unsafe {
            let read = pg_sys::stringToNode(text) as *mut pg_sys::Expr;
            pg_sys::fix_opfuncids(read.cast());
            let shown = pg_sys::nodeToString(read.cast());
            let pure = plans_alike(&CStr::from_ptr(shown).to_string_lossy());
            pg_sys::pfree(shown.cast());
            let tree = if pure {
                pg_sys::expression_planner(read)
            } else {
                read
            };
            let old = pg_sys::MemoryContextSwitchTo(self.context());
            let kept = pg_sys::copyObjectImpl(tree.cast());
            pg_sys::MemoryContextSwitchTo(old);
            (kept as *mut pg_sys::Expr, pure)
        };
        self.bytes += bytes.len();
        self.kept.push(Kept {
            text: bytes.into(),
            tree,
            planned,
        });
        self.kept.last()
    }

    /// The cache's memory context, made on first use.
    fn context(&mut self) -> pg_sys::MemoryContext {
        if self.context.is_null() {
            // SAFETY: a child of the backend's cache context, which lives as long as it.
            self.context = unsafe {
                pg_sys::AllocSetContextCreateInternal(
                    pg_sys::CacheMemoryContext,
                    c"noetl_vars CHECK constraints".as_ptr(),
                    0,
                    1024,
                    8 * 1024,
                )
            };
        }
        self.context
    }
}

/// Node kinds whose planning depends on nothing but the tree: column references, constants,
/// operators, arrays of constants (which planning makes one constant), AND/OR/NOT, IS NULL,
/// IS TRUE and binary-compatible casts.
const PLANNED_ALIKE: &[&str] = &[
    "VAR",
    "CONST",
    "OPEXPR",
    "SCALARARRAYOPEXPR",
    "ARRAYEXPR",
    "BOOLEXPR",
    "NULLTEST",
    "BOOLEANTEST",
    "RELABELTYPE",
];

/// Functions with a smaller OID are PostgreSQL's own (`FirstGenbkiObjectId`), which a
/// database cannot redefine.
const FIRST_DATABASE_FUNCTION: u32 = 10_000;

/// Whether an expression, shown as PostgreSQL's node text (`nodeToString`) with its
/// operators' functions looked up, is planned the same way whatever the catalog says of
/// anything but its types: only [`PLANNED_ALIKE`] nodes, and operators of PostgreSQL's own
/// functions. A function call, or an operator whose function a database made (which the
/// planner may inline, from its definition of the moment), is not.
fn plans_alike(shown: &str) -> bool {
    let nodes = shown.split('{').skip(1).all(|node| {
        let tag = node.split([' ', '}']).next().unwrap_or_default();
        PLANNED_ALIKE.contains(&tag)
    });
    let functions = shown.split(":opfuncid ").skip(1).all(|rest| {
        rest.split([' ', '}'])
            .next()
            .and_then(|oid| oid.parse::<u32>().ok())
            .is_some_and(|oid| oid < FIRST_DATABASE_FUNCTION)
    });
    nodes && functions
}

/// Installs the hook; called once from `_PG_init`.
pub fn init() {
    // SAFETY: `_PG_init` runs once per backend, before any statement of the library runs;
    // the previous hook is kept and called.
    unsafe {
        PREVIOUS = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
    }
}

#[cfg(test)]
mod tests {
    use super::plans_alike;

    #[test]
    fn only_operators_of_builtin_functions_on_columns_and_constants_are_planned_once() {
        let in_list =
            "{SCALARARRAYOPEXPR :opno 98 :opfuncid 67 :hashfuncid 0 :args ({VAR :varno 1} \
            {ARRAYEXPR :elements ({CONST :constvalue 8 [ 32 0 0 0 115 116 101 112 ]})})}";
        assert!(plans_alike(in_list));
        let not_null = "{BOOLEXPR :boolop not :args ({NULLTEST :arg {VAR :varno 1}})}";
        assert!(plans_alike(not_null));
        // A function call may be inlined or folded from its definition of the moment.
        assert!(!plans_alike(
            "{FUNCEXPR :funcid 16500 :args ({VAR :varno 1})}"
        ));
        assert!(!plans_alike(
            "{FUNCEXPR :funcid 870 :args ({VAR :varno 1})}"
        ));
        // An operator of a function a database made, likewise.
        assert!(!plans_alike(
            "{OPEXPR :opno 16600 :opfuncid 16601 :args ({VAR :varno 1})}"
        ));
        // Text that cannot be read as expected is not either.
        assert!(!plans_alike(
            "{OPEXPR :opno 98 :opfuncid x :args ({VAR :varno 1})}"
        ));
        assert!(!plans_alike("{COERCEVIAIO :arg {VAR :varno 1}}"));
    }
}
