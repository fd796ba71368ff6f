//! The Rust heap of a backend, metered while templates are compiled and evaluated.
//!
//! Fuel bounds the instructions a template runs, but some instructions make minijinja build
//! values without limit (a list concatenated with itself in a loop doubles each time; a value
//! that shares its parts, printed, expands exponentially), in loops that never come back to
//! the extension. A Rust allocation that fails does not raise an error: it aborts the process,
//! and PostgreSQL then restarts every backend. So while a template runs, this allocator counts
//! what the call adds to the heap:
//!
//! - past `noetl_vars.template_memory`, the next poll of the evaluation (every output, every
//!   document read, every 1024 items of a `range()`) fails the statement with 53200, cleanly;
//! - past twice that, in a loop that reaches no poll, the backend ends with a FATAL error (an
//!   ordinary exit, no crash recovery): an allocation cannot unwind, so nothing else can stop
//!   the loop short of the kernel killing the backend;
//! - a terminate (`pg_terminate_backend`, a fast shutdown) pending while such a loop allocates
//!   ends the backend the same way at once, and a cancel (`statement_timeout`) still pending
//!   after two seconds too.
//!
//! Outside of templates nothing is metered. A backend is single-threaded: the counters are
//! plain atomics.

// The `cargo test` harness does not install the allocator (see lib.rs).
#![cfg_attr(test, allow(dead_code))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use noetl_vars_core::{Error, ErrorKind};
use pgrx::pg_sys;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use crate::backend::errors::Raise;

/// Whether a template is being compiled or evaluated now.
static METERING: AtomicBool = AtomicBool::new(false);
/// Bytes the current evaluation added to the heap (may go negative: it frees older memory).
static ADDED: AtomicIsize = AtomicIsize::new(0);
/// The soft limit, in bytes; the hard limit is twice that.
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
/// When a cancel was first seen pending during this evaluation (ms since the epoch; 0: none).
static CANCEL_SEEN: AtomicU64 = AtomicU64::new(0);
/// Set once the allocator has decided to end the backend: nothing is metered any more.
static ENDING: AtomicBool = AtomicBool::new(false);
/// Set once the system refused a request (the report of it must not recurse).
static REFUSED: AtomicBool = AtomicBool::new(false);

/// How long a cancel may stay pending in a loop that reaches no poll.
const CANCEL_GRACE_MS: u64 = 2_000;

/// The allocator of the library: the system's, metered while templates run.
pub struct Metered;

// SAFETY: every call is passed on to the system allocator unchanged; the bookkeeping around
// it neither allocates nor unwinds (the FATAL path exits the process).
unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        admit(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if ptr.is_null() {
            refused(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        admit(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if ptr.is_null() {
            refused(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        if METERING.load(Relaxed) {
            ADDED.fetch_sub(layout.size() as isize, Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        admit(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if new.is_null() {
            refused(new_size);
        }
        new
    }
}

/// Counts a request of the current evaluation *before* it is passed on, so that one too
/// large for the limit (a width of 10^18 that no check foresaw) ends the backend cleanly
/// instead of reaching the system allocator.
fn admit(bytes: isize) {
    if METERING.load(Relaxed) {
        added(bytes);
    }
}

/// A request the system refused. Rust's answer to a failed allocation is to abort the
/// process, and PostgreSQL answers a backend that aborts by restarting every backend of the
/// server; a FATAL error ends this session alone.
fn refused(bytes: usize) -> ! {
    if REFUSED.swap(true, Relaxed) {
        // Building the report itself failed to allocate: nothing else is left.
        std::process::abort();
    }
    stop_metering();
    end_backend(
        PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
        format!(
            "out of memory: a request for {} MB was refused; the session ends",
            bytes >> 20
        ),
    )
}

/// Counts an allocation of the current evaluation and stops one that runs away.
fn added(bytes: isize) {
    let total = ADDED.fetch_add(bytes, Relaxed) + bytes;
    let limit = LIMIT.load(Relaxed);
    if total > 0 && total as usize / 2 > limit {
        stop_metering();
        end_backend(
            PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
            format!(
                "a template asked for more than twice noetl_vars.template_memory ({} MB) where it cannot be interrupted; the session ends",
                limit >> 20
            ),
        );
    }
    // SAFETY: plain flags the signal handlers set; reading them has no preconditions.
    let (die, cancel) = unsafe { (pg_sys::ProcDiePending, pg_sys::QueryCancelPending) };
    if die != 0 {
        stop_metering();
        end_backend(
            PgSqlErrorCode::ERRCODE_ADMIN_SHUTDOWN,
            "terminating connection due to administrator command".into(),
        );
    }
    if cancel != 0 {
        let now = now_ms();
        let seen = CANCEL_SEEN.load(Relaxed);
        if seen == 0 {
            CANCEL_SEEN.store(now, Relaxed);
        } else if now.saturating_sub(seen) > CANCEL_GRACE_MS {
            stop_metering();
            end_backend(
                PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
                "a template could not be canceled within two seconds (a loop that reaches no interrupt check); the session ends".into(),
            );
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(1)
}

/// Nothing is metered from here on: the allocator is about to end the backend, and building
/// its message allocates.
fn stop_metering() {
    ENDING.store(true, Relaxed);
    METERING.store(false, Relaxed);
}

/// Ends the backend with a FATAL error: PostgreSQL's ordinary exit (the transaction is rolled
/// back, locks released), which is safe from here because it never returns. Call
/// [`stop_metering`] first, before building `message`.
fn end_backend(code: PgSqlErrorCode, message: String) -> ! {
    pgrx::ereport!(PgLogLevel::FATAL, code, message);
    unreachable!("a FATAL report does not return")
}

/// Meters the current thread's heap until dropped (one evaluation).
pub struct Meter {
    outer: bool,
}

impl Meter {
    pub fn start() -> Meter {
        let outer = !METERING.load(Relaxed);
        if outer && !ENDING.load(Relaxed) {
            ADDED.store(0, Relaxed);
            CANCEL_SEEN.store(0, Relaxed);
            LIMIT.store(crate::backend::guc::template_memory(), Relaxed);
            METERING.store(true, Relaxed);
        }
        Meter { outer }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if self.outer {
            METERING.store(false, Relaxed);
        }
    }
}

/// Fails the statement when the current evaluation took more than `noetl_vars.template_memory`
/// (called where evaluations poll for interrupts, where an error can unwind).
pub fn check() {
    if !METERING.load(Relaxed) {
        return;
    }
    let total = ADDED.load(Relaxed);
    let limit = LIMIT.load(Relaxed);
    if total > 0 && total as usize > limit {
        METERING.store(false, Relaxed);
        Error::new(
            ErrorKind::OutOfMemory,
            format!(
                "the templates of this call (compiling and evaluating them) took more than noetl_vars.template_memory ({} MB) of memory",
                limit >> 20
            ),
        )
        .with_hint("build smaller values, or raise noetl_vars.template_memory")
        .raise();
    }
}
