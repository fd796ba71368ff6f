//! Locks that make read-modify-write of variables safe under concurrency.
//!
//! Rows that do not exist yet cannot be row-locked, so writers take transaction-scoped
//! advisory locks instead: a shared lock on the execution, then one lock per variable name
//! (exclusive for names they write, shared for names they only read), always in sorted order
//! so that two callers never wait for each other in a circle. Operations on a whole execution
//! (`cleanup_execution`, very large batches) take the execution lock exclusively.
//!
//! The locks live in their own key space (`objsubid` 20054 and 20055 in `pg_locks`), so they
//! never collide with the application's `pg_advisory_lock` calls, and they are released at
//! commit or rollback.

use std::collections::{BTreeMap, HashSet};

use pgrx::pg_sys;

/// Beyond this many names, one exclusive lock on the execution replaces the per-name locks,
/// keeping the shared lock table (`max_locks_per_transaction`) out of reach.
pub const MAX_NAME_LOCKS: usize = 64;

const EXECUTION_SPACE: u16 = 20054;
const NAME_SPACE: u16 = 20055;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Shared,
    Exclusive,
}

fn tag(key: u64, space: u16) -> pg_sys::LOCKTAG {
    pg_sys::LOCKTAG {
        locktag_field1: unsafe { pg_sys::MyDatabaseId }.to_u32(),
        locktag_field2: (key >> 32) as u32,
        locktag_field3: key as u32,
        locktag_field4: space,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    }
}

fn lockmode(mode: Mode) -> pg_sys::LOCKMODE {
    (match mode {
        Mode::Shared => pg_sys::ShareLock,
        Mode::Exclusive => pg_sys::ExclusiveLock,
    }) as pg_sys::LOCKMODE
}

fn acquire(tag: pg_sys::LOCKTAG, mode: Mode) {
    unsafe {
        pg_sys::LockAcquire(&tag, lockmode(mode), false, false);
    }
}

/// The lock key of one variable: FNV-1a over the execution id and the name. It must be the
/// same in every backend (so no randomly seeded hasher); two names sharing a key are merely
/// serialized together.
fn name_key(execution_id: i64, name: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    execution_id
        .to_le_bytes()
        .iter()
        .chain(name.as_bytes())
        .fold(OFFSET, |hash, byte| {
            (hash ^ *byte as u64).wrapping_mul(PRIME)
        })
}

/// The locks one call holds on one execution.
pub struct Locks {
    execution_id: i64,
    whole: bool,
    held: HashSet<u64>,
}

impl Locks {
    /// Locks the execution for the given names: `Exclusive` for names written, `Shared` for
    /// names only read. Too many names lock the whole execution instead.
    pub fn acquire(execution_id: i64, names: &BTreeMap<String, Mode>) -> Locks {
        if names.len() > MAX_NAME_LOCKS {
            return Locks::whole(execution_id);
        }
        acquire(tag(execution_id as u64, EXECUTION_SPACE), Mode::Shared);
        let mut keyed: Vec<(u64, Mode)> = names
            .iter()
            .map(|(name, mode)| (name_key(execution_id, name), *mode))
            .collect();
        // Sorted by key; a key wanted in both modes is taken once, exclusively.
        keyed.sort();
        keyed.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 = a.1.max(b.1);
                true
            } else {
                false
            }
        });
        let mut held = HashSet::with_capacity(keyed.len());
        for (key, mode) in keyed {
            acquire(tag(key, NAME_SPACE), mode);
            held.insert(key);
        }
        Locks {
            execution_id,
            whole: false,
            held,
        }
    }

    /// Locks the whole execution exclusively.
    pub fn whole(execution_id: i64) -> Locks {
        acquire(tag(execution_id as u64, EXECUTION_SPACE), Mode::Exclusive);
        Locks {
            execution_id,
            whole: true,
            held: HashSet::new(),
        }
    }

    /// Locks the whole execution exclusively if that is possible without waiting.
    pub fn try_whole(execution_id: i64) -> Option<Locks> {
        let tag = tag(execution_id as u64, EXECUTION_SPACE);
        let got = unsafe { pg_sys::LockAcquire(&tag, lockmode(Mode::Exclusive), false, true) };
        (got != pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL).then(|| Locks {
            execution_id,
            whole: true,
            held: HashSet::new(),
        })
    }

    /// Shares a name discovered while rendering (`vars[name]`), if not covered already.
    pub fn share(&mut self, name: &str) {
        if self.whole {
            return;
        }
        let key = name_key(self.execution_id, name);
        if self.held.insert(key) {
            acquire(tag(key, NAME_SPACE), Mode::Shared);
        }
    }
}
