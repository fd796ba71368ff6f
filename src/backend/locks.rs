//! Locks that make read-modify-write of variables safe under concurrency, without deadlocks
//! and with a bounded number of lock-table entries.
//!
//! Rows that do not exist yet cannot be row-locked, so the extension's functions take
//! transaction-scoped advisory locks in a key space of their own (`objsubid` 20054 for an
//! execution, 20055 for one variable in `pg_locks`), released at commit or rollback:
//!
//! - first one lock on the **execution**, in a mode that says what the call will do to it,
//!   as PostgreSQL's table locks do: ROW SHARE to read some variables, ROW EXCLUSIVE to
//!   write some, SHARE to read any variable (a block that enumerates `vars` or reads a name
//!   known only at run time), SHARE ROW EXCLUSIVE to read any and write some, EXCLUSIVE to
//!   write all (`cleanup_execution`, blocks of more than [`MAX_NAME_LOCKS`] names);
//! - then one lock per **variable** named (exclusive to write, shared to read), sorted;
//! - then one lock per **step or iteration scope** a `set:` block reads or writes
//!   (`objsubid` 20056), sorted.
//!
//! A call given an event id first locks that id (`objsubid` 20058), exclusively: a duplicate
//! waits there, holding nothing else of the call yet.
//!
//! Before all of these a `set:` block takes one exclusive lock per **shared scope** it writes
//! (`objsubid` 20057: its playbook's, then the global one; reading one takes none, so a role
//! that may only read them cannot hold their writers up). Calls of different executions meet
//! only there, so a single call that waits for a shared scope holds nothing of its execution
//! yet. (A transaction that made an earlier call still holds that call's locks, so two
//! transactions of several calls can deadlock as any two can; PostgreSQL detects it, 40P01.)
//!
//! Every lock of a call is known before the first is taken and they are taken in that one
//! order, so two calls never wait for each other in a circle. A call takes at most
//! `1 + 1 + MAX_NAME_LOCKS + 4` locks ([`MAX_CALL_LOCKS`]: its event, the execution, its names,
//! a step's, an iteration's and two shared scopes), and a transaction at most `noetl_vars.max_transaction_locks`
//! (by default PostgreSQL's `max_locks_per_transaction`, the share of the lock table each
//! transaction is sized for):
//! a statement that would take more (one call per execution over thousands of executions)
//! fails with 53400 before taking them, instead of filling PostgreSQL's shared lock table
//! and failing other sessions.

use std::cell::RefCell;
use std::collections::BTreeMap;

use noetl_vars_core::{Error, ErrorKind};
use pgrx::pg_sys;

use crate::backend::guc;

/// Beyond this many names, one exclusive lock on the execution replaces the per-name locks.
pub const MAX_NAME_LOCKS: usize = 32;

/// The most locks one call takes: its event, the execution, its names, and four `set:`
/// scopes.
pub const MAX_CALL_LOCKS: usize = 1 + 1 + MAX_NAME_LOCKS + 4;

const EXECUTION_SPACE: u16 = 20054;
const NAME_SPACE: u16 = 20055;
const SCOPE_SPACE: u16 = 20056;
const SHARED_SPACE: u16 = 20057;
const EVENT_SPACE: u16 = 20058;

/// A lock on one variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// What a call does to its execution, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    ReadSome,
    WriteSome,
    ReadAll,
    ReadAllWriteSome,
    WriteAll,
}

impl Intent {
    fn lockmode(self) -> pg_sys::LOCKMODE {
        (match self {
            Intent::ReadSome => pg_sys::RowShareLock,
            Intent::WriteSome => pg_sys::RowExclusiveLock,
            Intent::ReadAll => pg_sys::ShareLock,
            Intent::ReadAllWriteSome => pg_sys::ShareRowExclusiveLock,
            Intent::WriteAll => pg_sys::ExclusiveLock,
        }) as pg_sys::LOCKMODE
    }
}

fn name_lockmode(mode: Mode) -> pg_sys::LOCKMODE {
    (match mode {
        Mode::Shared => pg_sys::ShareLock,
        Mode::Exclusive => pg_sys::ExclusiveLock,
    }) as pg_sys::LOCKMODE
}

/// The key of a lock: its space and 64-bit key.
type Key = (u16, u64);

thread_local! {
    /// The keys this transaction holds locks on, with the subtransaction that took each (a
    /// B-tree: a handful of keys per call, compared without hashing).
    static HELD: RefCell<BTreeMap<Key, pg_sys::SubTransactionId>> =
        const { RefCell::new(BTreeMap::new()) };
}

fn tag((space, key): Key) -> pg_sys::LOCKTAG {
    pg_sys::LOCKTAG {
        // SAFETY: a plain global of the backend, set once it is connected to its database.
        locktag_field1: unsafe { pg_sys::MyDatabaseId }.to_u32(),
        locktag_field2: (key >> 32) as u32,
        locktag_field3: key as u32,
        locktag_field4: space,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    }
}

/// Takes a lock for subtransaction `subxact` (the current one), waiting for it unless
/// `try_only`: whether it was granted, and whether the transaction held no lock on `key`
/// before.
fn acquire(
    key: Key,
    mode: pg_sys::LOCKMODE,
    try_only: bool,
    subxact: pg_sys::SubTransactionId,
) -> (bool, bool) {
    let tag = tag(key);
    // SAFETY: a valid advisory tag, transaction-scoped (sessionLock = false), in a backend
    // inside a transaction (every caller is a SQL function).
    let got = unsafe { pg_sys::LockAcquire(&tag, mode, false, try_only) };
    if got == pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL {
        return (false, false);
    }
    let new = HELD.with(|held| {
        let mut held = held.borrow_mut();
        if held.contains_key(&key) {
            return false;
        }
        held.insert(key, subxact);
        true
    });
    (true, new)
}

/// The current subtransaction, which the locks a call takes belong to.
fn current_subxact() -> pg_sys::SubTransactionId {
    // SAFETY: no preconditions; inside a transaction.
    unsafe { pg_sys::GetCurrentSubTransactionId() }
}

/// Refuses, before taking anything, a call that would push the transaction past its budget.
fn check_budget(keys: &[Key]) -> Result<(), Error> {
    let budget = guc::max_transaction_locks().max(MAX_CALL_LOCKS);
    let (held, new) = HELD.with(|held| {
        let held = held.borrow();
        (
            held.len(),
            keys.iter().filter(|k| !held.contains_key(k)).count(),
        )
    });
    if held + new > budget {
        return Err(Error::new(
            ErrorKind::ConfigurationLimit,
            format!(
                "this transaction would hold {} noetl_vars locks, more than noetl_vars.max_transaction_locks ({budget})",
                held + new
            ),
        )
        .with_detail(
            "Each call locks its execution and up to 32 of its variables until the transaction ends.",
        )
        .with_hint(
            "commit between executions (one transaction per step), or raise noetl_vars.max_transaction_locks together with max_locks_per_transaction",
        ));
    }
    Ok(())
}

/// FNV-1a over `parts`. A lock key must be the same in every backend (so no randomly seeded
/// hasher); two things sharing a key are merely serialized together.
pub fn fnv(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    parts
        .iter()
        .flat_map(|p| p.iter())
        .fold(OFFSET, |hash, byte| {
            (hash ^ *byte as u64).wrapping_mul(PRIME)
        })
}

/// The lock key of one variable: over the execution id and the name.
fn name_key(execution_id: i64, name: &str) -> u64 {
    fnv(&[&execution_id.to_le_bytes(), name.as_bytes()])
}

fn execution_key(execution_id: i64) -> Key {
    (EXECUTION_SPACE, execution_id as u64)
}

/// What one call will read and write of an execution.
#[derive(Debug, Default)]
pub struct Request {
    /// Names read (`Shared`) or written (`Exclusive`).
    pub names: BTreeMap<String, Mode>,
    /// Whether the call may read any variable (names known only at run time, enumeration).
    pub reads_all: bool,
    /// Step and iteration scopes read or written, by key ([`fnv`] of what identifies them).
    pub scopes: Vec<(u64, Mode)>,
    /// Shared scopes (a playbook's, the global one) read or written, in the order to lock them.
    pub shared: Vec<(u64, Mode)>,
}

impl Request {
    pub fn write(names: impl IntoIterator<Item = impl Into<String>>) -> Request {
        Request {
            names: names
                .into_iter()
                .map(|n| (n.into(), Mode::Exclusive))
                .collect(),
            reads_all: false,
            scopes: Vec::new(),
            shared: Vec::new(),
        }
    }
}

/// Proof that a call holds its locks; they last until the end of the transaction.
pub struct Locks(());

/// An execution lock taken by [`Locks::try_whole`], to give back early.
pub struct Whole {
    execution_id: i64,
    /// Whether the transaction held no lock on the execution before.
    new: bool,
}

impl Locks {
    /// Locks what `request` says, up front and in one order: the execution, then the names.
    pub fn acquire(execution_id: i64, request: &Request) -> Result<Locks, Error> {
        let writes = request.names.values().any(|m| *m == Mode::Exclusive);
        let whole = request.names.len() > MAX_NAME_LOCKS;
        let intent = match (request.reads_all, writes) {
            _ if whole => Intent::WriteAll,
            (false, false) => Intent::ReadSome,
            (false, true) => Intent::WriteSome,
            (true, false) => Intent::ReadAll,
            (true, true) => Intent::ReadAllWriteSome,
        };
        // Names read are covered by the execution lock when the call may read any of them,
        // and every name is when it locks the whole execution.
        let named: Vec<(u64, Mode)> = request
            .names
            .iter()
            .filter(|(_, mode)| !whole && (!request.reads_all || **mode == Mode::Exclusive))
            .map(|(name, mode)| (name_key(execution_id, name), *mode))
            .collect();
        // In the order given (a playbook's before the global one), a key wanted twice (two
        // scopes whose keys collide) taken once, in the stronger mode.
        let mut shared: Vec<(u64, Mode)> = Vec::with_capacity(request.shared.len());
        for &(key, mode) in &request.shared {
            match shared.iter_mut().find(|(k, _)| *k == key) {
                Some(seen) => seen.1 = seen.1.max(mode),
                None => shared.push((key, mode)),
            }
        }
        let mut locks: Vec<(Key, pg_sys::LOCKMODE)> = shared
            .into_iter()
            .map(|(k, m)| ((SHARED_SPACE, k), name_lockmode(m)))
            .collect();
        locks.push((execution_key(execution_id), intent.lockmode()));
        locks.extend(sorted(named).map(|(k, m)| ((NAME_SPACE, k), name_lockmode(m))));
        locks.extend(
            sorted(request.scopes.clone()).map(|(k, m)| ((SCOPE_SPACE, k), name_lockmode(m))),
        );
        let keys: Vec<Key> = locks.iter().map(|(k, _)| *k).collect();
        check_budget(&keys)?;
        let subxact = current_subxact();
        for (key, mode) in locks {
            acquire(key, mode, false, subxact);
        }
        Ok(Locks(()))
    }

    /// Locks one event id of an execution exclusively, before any other lock of the call: a
    /// concurrent call with the same id waits here until this transaction ends.
    pub fn event(execution_id: i64, event_id: &str) -> Result<Locks, Error> {
        let key = (
            EVENT_SPACE,
            fnv(&[&execution_id.to_le_bytes(), event_id.as_bytes()]),
        );
        check_budget(&[key])?;
        acquire(
            key,
            pg_sys::ExclusiveLock as pg_sys::LOCKMODE,
            false,
            current_subxact(),
        );
        Ok(Locks(()))
    }

    /// Locks the whole execution exclusively.
    pub fn whole(execution_id: i64) -> Result<Locks, Error> {
        let key = execution_key(execution_id);
        check_budget(&[key])?;
        acquire(key, Intent::WriteAll.lockmode(), false, current_subxact());
        Ok(Locks(()))
    }

    /// Locks the whole execution exclusively if that is possible without waiting.
    pub fn try_whole(execution_id: i64) -> Result<Option<Whole>, Error> {
        let key = execution_key(execution_id);
        check_budget(&[key])?;
        let (granted, new) = acquire(key, Intent::WriteAll.lockmode(), true, current_subxact());
        Ok(granted.then_some(Whole { execution_id, new }))
    }
}

impl Whole {
    /// Gives the lock back before the transaction ends (`purge_stale`, which would otherwise
    /// hold one per execution it purged). A lock the transaction held on the execution before
    /// (in another mode, from an earlier call) stays, and stays counted.
    pub fn release(self) {
        let key = execution_key(self.execution_id);
        let tag = tag(key);
        // SAFETY: a lock this transaction holds in this mode (try_whole granted it).
        let released = unsafe { pg_sys::LockRelease(&tag, Intent::WriteAll.lockmode(), false) };
        if released && self.new {
            HELD.with(|held| held.borrow_mut().remove(&key));
        }
    }
}

/// Sorted by key; a key wanted in both modes is taken once, exclusively.
fn sorted(mut keyed: Vec<(u64, Mode)>) -> impl Iterator<Item = (u64, Mode)> {
    keyed.sort();
    keyed.dedup_by(|b, a| {
        if a.0 == b.0 {
            a.1 = a.1.max(b.1);
            true
        } else {
            false
        }
    });
    keyed.into_iter()
}

/// The transaction ended: its locks are gone.
pub fn forget_all() {
    HELD.with(|held| held.borrow_mut().clear());
}

/// A subtransaction was rolled back: the locks it took are gone with it.
pub fn forget_since(subxact: pg_sys::SubTransactionId) {
    HELD.with(|held| held.borrow_mut().retain(|_, taken| *taken < subxact));
}
