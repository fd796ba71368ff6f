//! A stack of its own for template work, sized from the fuel.
//!
//! minijinja recurses once per nesting level when it drops, compares, sorts or prints a nested
//! value, and a template can build a list nested as deep as its fuel allows
//! (`{% set ns.x = [[[ns.x]]] %}` in a loop: about one level per unit of fuel). On the 8 MB
//! process stack that ends in a crash, which inside PostgreSQL takes every session down with
//! it. Compiling and evaluating therefore run on a stack of their own, reserved once per thread
//! (one thread is one backend) and reused by every call, large enough for what the fuel allows:
//! `BYTES_PER_FUEL` per unit of fuel (the deepest recursions measured take under 530 bytes
//! per level, and a level costs at least one unit), plus [`FIXED`] for everything that does not
//! grow with fuel, plus the host's own allowance ([`Limits::host_stack`]).
//!
//! Every system call is checked: a reservation the kernel refuses (`ulimit -v`,
//! `vm.overcommit_memory = 2`) is an [`ErrorKind::OutOfMemory`] error, never a fall-back onto
//! the process stack. The mapping is never unmapped while the thread lives: a backend that
//! exits in the middle of an evaluation (a FATAL error after `pg_terminate_backend` or a fast
//! shutdown runs the process exit on this stack) must not have it taken from under it, so the
//! region has no destructor and is only replaced, by a larger one, between evaluations.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limits;

/// Stack reserved per unit of template fuel.
pub(crate) const BYTES_PER_FUEL: usize = 640;

/// Stack for what does not grow with fuel: compiling a template (expressions chain at most
/// `MAX_CHAIN` (template chains) operations, about 300 bytes each), walking documents (at most
/// `MAX_DEPTH` levels) and the frames of the engine itself.
pub const FIXED: usize = 8 << 20;

/// The reservation when fuel is unlimited (tests and tools only; the PostgreSQL layer always
/// sets fuel).
const UNLIMITED: usize = 1 << 30;

/// How much of the stack stays committed between evaluations; deeper use is released.
const KEPT: usize = 2 * 1024 * 1024;

const MIB: usize = 1 << 20;

/// Called first thing on the new stack; what it returns is dropped when evaluation ends.
/// A host whose runtime measures stack depth (PostgreSQL does) re-bases it here.
pub(crate) type EnterHook = fn() -> Box<dyn Any>;

static ENTER: OnceLock<EnterHook> = OnceLock::new();

/// Registers the host's hook; only the first registration counts.
pub fn set_enter_hook(hook: EnterHook) {
    let _ = ENTER.set(hook);
}

/// The bytes of stack an evaluation under `limits` may need.
pub fn size_for(limits: &Limits) -> usize {
    let grows = match limits.fuel {
        Some(fuel) => usize::try_from(fuel)
            .unwrap_or(usize::MAX)
            .saturating_mul(BYTES_PER_FUEL),
        None => UNLIMITED,
    };
    let total = FIXED
        .saturating_add(limits.host_stack)
        .saturating_add(grows);
    total.div_ceil(MIB).saturating_mul(MIB)
}

/// A mapping: the guard page at `map`, the usable stack above it.
#[derive(Clone, Copy)]
struct Region {
    map: *mut u8,
    map_len: usize,
    page: usize,
}

impl Region {
    fn low(&self) -> *mut u8 {
        // SAFETY: `page < map_len`, so this stays inside the mapping.
        unsafe { self.map.add(self.page) }
    }

    fn size(&self) -> usize {
        self.map_len - self.page
    }
}

thread_local! {
    static REGION: Cell<Option<Region>> = const { Cell::new(None) };
    static ON_IT: Cell<bool> = const { Cell::new(false) };
    static RELEASE: Cell<bool> = const { Cell::new(true) };
    /// How many [`ReleaseAtEnd`] guards are alive: while any is, evaluations leave the
    /// check for deep pages to the outermost one.
    static DEFERRING: Cell<u32> = const { Cell::new(0) };
    /// Whether an evaluation ran since the last check (under a guard).
    static PENDING: Cell<bool> = const { Cell::new(false) };
}

/// While alive, the evaluations the thread runs do not each check for deep pages to give
/// back: the outermost guard checks once, when it is dropped (also on unwinding). A host call
/// that parses a block and then evaluates it thus makes one `mincore` system call instead of
/// one per evaluation (a system call costs microseconds in a virtual machine).
#[must_use = "the check happens when the guard is dropped"]
pub struct ReleaseAtEnd {
    // Thread-bound: the counters are the thread's.
    _thread: std::marker::PhantomData<*const ()>,
}

/// Defers the check for deep pages until the returned guard is dropped.
pub fn release_at_end() -> ReleaseAtEnd {
    DEFERRING.set(DEFERRING.get().saturating_add(1));
    ReleaseAtEnd {
        _thread: std::marker::PhantomData,
    }
}

impl Drop for ReleaseAtEnd {
    fn drop(&mut self) {
        let left = DEFERRING.get().saturating_sub(1);
        DEFERRING.set(left);
        // Never while something runs on the stack (a guard made inside an evaluation):
        // the pages would be taken from under it. The outer evaluation's end checks instead.
        if left == 0 && PENDING.get() && !ON_IT.get() {
            PENDING.set(false);
            release_if_enabled();
        }
    }
}

/// Gives back the current region's deep pages, unless painting turned that off.
fn release_if_enabled() {
    if let Some(region) = REGION.get() {
        if RELEASE.get() {
            release_deep_pages(region.low(), region.size());
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096).max(4096)
}

fn refused(size: usize, call: &str) -> Error {
    let cause = std::io::Error::last_os_error();
    Error::new(
        ErrorKind::OutOfMemory,
        format!(
            "could not reserve {} MiB of address space for template evaluation ({call}: {cause})",
            size / MIB
        ),
    )
    .with_hint(format!(
        "the evaluation stack takes {BYTES_PER_FUEL} bytes per unit of noetl_vars.template_fuel: \
         lower the fuel, or give the server more address space (ulimit -v, vm.overcommit_memory)"
    ))
}

/// The thread's evaluation stack, at least `size` bytes; mapped, or replaced by a larger one,
/// when needed. Must not be called while running on the current region.
fn reserve(size: usize) -> Result<Region> {
    if let Some(region) = REGION.get() {
        if region.size() >= size {
            return Ok(region);
        }
        // SAFETY: exactly the mapping made below, and nothing runs on it (ON_IT is false).
        if unsafe { libc::munmap(region.map.cast(), region.map_len) } != 0 {
            return Err(refused(size, "munmap"));
        }
        REGION.set(None);
    }
    let page = page_size();
    let map_len = size
        .checked_add(page)
        .ok_or_else(|| refused(size, "size"))?;
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return Err(refused(size, "mmap"));
    }
    // SAFETY: the first page of the mapping just made becomes the guard.
    if unsafe { libc::mprotect(map, page, libc::PROT_NONE) } != 0 {
        let err = refused(size, "mprotect");
        // SAFETY: the mapping just made, never used.
        unsafe { libc::munmap(map, map_len) };
        return Err(err);
    }
    let region = Region {
        map: map.cast(),
        map_len,
        page,
    };
    REGION.set(Some(region));
    Ok(region)
}

/// Resets the "on the stack" flag however the evaluation ends.
struct OnIt;

impl OnIt {
    fn enter() -> OnIt {
        ON_IT.set(true);
        OnIt
    }
}

impl Drop for OnIt {
    fn drop(&mut self) {
        ON_IT.set(false);
    }
}

/// Runs `f` on the evaluation stack, reserved for `limits`. Panics inside `f` propagate to the
/// caller; a reservation the kernel refuses is an error and `f` does not run.
pub fn run<R>(limits: &Limits, f: impl FnOnce() -> R) -> Result<R> {
    // A nested evaluation (a host callback rendering again) is already on the big stack.
    if ON_IT.get() {
        return Ok(f());
    }
    let region = reserve(size_for(limits))?;
    let on_it = OnIt::enter();
    let mut result: Option<R> = None;
    let mut panic: Option<Box<dyn Any + Send>> = None;
    let mut job = Some(f);
    // SAFETY: `low..low + size` is a readable, writable, page-aligned mapping used by nobody
    // else (ON_IT); the callback catches every unwind, so none crosses `on_stack`.
    unsafe {
        psm::on_stack(region.low(), region.size(), || {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let _guard = ENTER.get().map(|enter| enter());
                job.take().map(|f| f())
            }));
            match outcome {
                Ok(value) => result = value,
                Err(payload) => panic = Some(payload),
            }
        });
    }
    drop(on_it);
    if DEFERRING.get() > 0 {
        PENDING.set(true);
    } else if RELEASE.get() {
        release_deep_pages(region.low(), region.size());
    }
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
    match result {
        Some(value) => Ok(value),
        // The closure ran exactly once and either returned (result set) or panicked
        // (resumed above); reaching here would mean it did neither.
        None => unreachable!("the evaluation closure neither returned nor panicked"),
    }
}

/// Gives back the pages below the top `KEPT` bytes, so that one deep evaluation does not keep
/// hundreds of megabytes committed for the life of the backend. The stack grows down page by
/// page, so if the [`PROBE`] bytes just below the kept part were never touched, nothing deeper
/// was either: one `mincore` spares the `madvise` in the usual case. Both calls only decide how
/// much memory stays committed; a failure of either leaves the pages in place, which is safe.
fn release_deep_pages(low: *mut u8, size: usize) {
    if probe_resident(low, size) {
        // SAFETY: a sub-range of our own mapping (`probe_resident` found it larger than
        // `KEPT`) that nothing is running on.
        unsafe {
            libc::madvise(low.cast(), size - KEPT, libc::MADV_DONTNEED);
        }
    }
}

/// How much of a stack, just below the part that stays committed, is looked at to tell
/// whether an evaluation went deeper.
const PROBE: usize = 64 * 1024;

/// Whether any page of the [`PROBE`] bytes just below the top `KEPT` bytes of the stack at
/// `low` (`size` bytes) is resident; a failed `mincore` counts as resident, so that the pages
/// are given back. False for a stack too small to have such a part.
fn probe_resident(low: *mut u8, size: usize) -> bool {
    if size <= KEPT + PROBE {
        return false;
    }
    let mut resident = vec![0u8; PROBE.div_ceil(page_size())];
    // SAFETY: a page-aligned sub-range of our own mapping; `resident` has one byte per page.
    let failed = unsafe {
        libc::mincore(
            low.add(size - KEPT - PROBE).cast(),
            PROBE,
            resident.as_mut_ptr(),
        ) != 0
    };
    failed || resident.iter().any(|r| r & 1 != 0)
}

/// The deepest point the current thread's evaluation stack has reached since it was last
/// painted with [`paint`], in bytes from its top. For tests of the sizing rule.
#[doc(hidden)]
pub fn high_water() -> Option<usize> {
    let region = REGION.get()?;
    // SAFETY: the usable part of our own mapping, not in use (nothing runs on it now).
    let bytes = unsafe { std::slice::from_raw_parts(region.low(), region.size()) };
    let untouched = bytes
        .iter()
        .position(|b| *b != PAINT)
        .unwrap_or(bytes.len());
    Some(region.size() - untouched)
}

/// Whether any page of the [`PROBE`] bytes just below the part of the thread's evaluation
/// stack that stays committed is resident now (`None`: no stack yet). For tests that
/// evaluations give deep pages back.
#[doc(hidden)]
pub fn deep_pages_resident() -> Option<bool> {
    let region = REGION.get()?;
    Some(probe_resident(region.low(), region.size()))
}

const PAINT: u8 = 0x5a;

/// Fills the current thread's evaluation stack with a pattern, so that [`high_water`] can
/// tell how deep the next evaluations go (deep pages are then kept, not given back, until
/// the thread ends). Reserves it for `limits` first.
#[doc(hidden)]
pub fn paint(limits: &Limits) -> Result<usize> {
    RELEASE.set(false);
    let region = reserve(size_for(limits))?;
    // SAFETY: the usable part of our own mapping, not in use (ON_IT is false when called
    // from outside an evaluation, which `reserve` requires too).
    unsafe { std::ptr::write_bytes(region.low(), PAINT, region.size()) };
    Ok(region.size())
}

#[cfg(test)]
mod tests;
