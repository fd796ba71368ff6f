//! A large stack for template evaluation.
//!
//! minijinja recurses once per nesting level when it drops, compares or prints a nested value,
//! and a template can build a list nested a hundred thousand levels deep within its fuel
//! (`{% set ns.x = [ns.x] %}` in a loop). On an 8 MB process stack that ends in a crash, which
//! inside PostgreSQL takes every session down with it. Evaluation therefore runs on a stack of
//! its own, reserved once per thread (one thread is one backend) and reused by every call:
//! 512 MB of address space, committed only as pages are touched, with a guard page below it.
//! After an evaluation that went deep, the pages it used are given back to the kernel so a
//! backend does not keep them.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

/// Size of the evaluation stack. Only touched pages use memory.
pub const EVALUATION_STACK: usize = 512 * 1024 * 1024;

/// How much of the stack stays committed between evaluations; deeper use is released.
const KEPT: usize = 2 * 1024 * 1024;

/// Called first thing on the new stack; what it returns is dropped when evaluation ends.
/// A host whose runtime measures stack depth (PostgreSQL does) re-bases it here.
pub type EnterHook = fn() -> Box<dyn Any>;

static ENTER: OnceLock<EnterHook> = OnceLock::new();

/// Registers the host's hook; only the first registration counts.
pub fn set_enter_hook(hook: EnterHook) {
    let _ = ENTER.set(hook);
}

struct Region {
    /// Lowest address of the mapping (the guard page).
    base: *mut u8,
    size: usize,
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `base`/`size` are exactly what mmap returned; nothing runs on it any more.
        unsafe {
            libc::munmap(self.base.cast(), self.size);
        }
    }
}

thread_local! {
    static REGION: RefCell<Option<Region>> = const { RefCell::new(None) };
    static ON_IT: Cell<bool> = const { Cell::new(false) };
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096).max(4096)
}

/// The thread's evaluation stack, mapped on first use: (lowest usable address, usable size).
fn region() -> Option<(*mut u8, usize)> {
    REGION.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let page = page_size();
            let size = EVALUATION_STACK + page;
            // SAFETY: an anonymous private mapping; the result is checked.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return None;
            }
            // SAFETY: the first page of our own mapping becomes the guard.
            unsafe {
                libc::mprotect(base, page, libc::PROT_NONE);
            }
            *slot = Some(Region {
                base: base.cast(),
                size,
            });
        }
        slot.as_ref().map(|r| {
            let page = page_size();
            // SAFETY: within the mapping.
            (unsafe { r.base.add(page) }, r.size - page)
        })
    })
}

/// Runs `f` on the evaluation stack. Panics inside `f` propagate to the caller.
pub fn run<R>(f: impl FnOnce() -> R) -> R {
    // A nested evaluation (a host callback rendering again) is already on the big stack; and
    // should mapping fail, the 8 MB stack is still better than nothing.
    let Some((low, size)) = (!ON_IT.get()).then(region).flatten() else {
        return f();
    };
    ON_IT.set(true);
    let mut result: Option<R> = None;
    let mut panic: Option<Box<dyn Any + Send>> = None;
    let mut job = Some(f);
    // SAFETY: `low..low + size` is a readable, writable mapping used by nobody else (ON_IT),
    // page-aligned; the callback catches every unwind, so none crosses `on_stack`.
    unsafe {
        psm::on_stack(low, size, || {
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
    ON_IT.set(false);
    release_deep_pages(low, size);
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
    match result {
        Some(value) => value,
        // The closure ran exactly once and either returned (result set) or panicked
        // (resumed above); reaching here would mean it did neither.
        None => unreachable!("the evaluation closure neither returned nor panicked"),
    }
}

/// Gives back the pages below the top `KEPT` bytes, so that one deep evaluation does not keep
/// hundreds of megabytes committed for the life of the backend. The stack grows down page by
/// page, so if the 64 kB just below the kept part were never touched, nothing deeper was
/// either: one `mincore` spares the `madvise` in the usual case.
fn release_deep_pages(low: *mut u8, size: usize) {
    const PROBE: usize = 64 * 1024;
    if size <= KEPT + PROBE {
        return;
    }
    let page = page_size();
    let boundary = size - KEPT;
    let mut resident = vec![0u8; PROBE.div_ceil(page)];
    // SAFETY: a page-aligned sub-range of our own mapping; `resident` has one byte per page.
    let touched = unsafe {
        libc::mincore(
            low.add(boundary - PROBE).cast(),
            PROBE,
            resident.as_mut_ptr(),
        ) != 0
            || resident.iter().any(|r| r & 1 != 0)
    };
    if touched {
        // SAFETY: a sub-range of our own mapping that nothing is running on.
        unsafe {
            libc::madvise(low.cast(), boundary, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(n: u64) -> u64 {
        // 256 bytes per level: 100,000 levels need about 25 MB, far past an 8 MB stack.
        let pad = std::hint::black_box([0u8; 256]);
        if n == 0 {
            u64::from(pad[0])
        } else {
            1 + depth(n - 1) + u64::from(pad[1])
        }
    }

    #[test]
    fn deep_recursion_runs_on_the_evaluation_stack() {
        assert_eq!(run(|| depth(100_000)), 100_000);
        // Reused, not remapped.
        let first = region().map(|r| r.0 as usize);
        assert_eq!(run(|| depth(10)), 10);
        assert_eq!(region().map(|r| r.0 as usize), first);
    }

    #[test]
    fn panics_cross_back_to_the_caller() {
        let caught = std::panic::catch_unwind(|| run(|| panic!("inner")));
        assert!(caught.is_err());
        // And the stack is usable again afterwards.
        assert_eq!(run(|| 7), 7);
    }

    #[test]
    fn deep_use_is_given_back() {
        fn resident_below_kept() -> bool {
            let (low, size) = region().unwrap();
            let page = page_size();
            let probe = 64 * 1024;
            let mut v = vec![0u8; probe / page];
            unsafe { libc::mincore(low.add(size - KEPT - probe).cast(), probe, v.as_mut_ptr()) };
            v.iter().any(|r| r & 1 != 0)
        }
        assert_eq!(run(|| depth(100_000)), 100_000);
        assert!(
            !resident_below_kept(),
            "deep pages were kept after the evaluation"
        );
    }

    #[test]
    fn nested_evaluations_stay_on_the_same_stack() {
        assert_eq!(run(|| run(|| depth(1000))), 1000);
    }
}
