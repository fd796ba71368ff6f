//! A large stack for template evaluation.
//!
//! minijinja recurses once per nesting level when it drops, compares or prints a nested value,
//! and a template can build a list nested a hundred thousand levels deep within its fuel
//! (`{% set ns.x = [ns.x] %}` in a loop). On an 8 MB process stack that ends in a crash, which
//! inside PostgreSQL takes every session down with it. Evaluation therefore runs on its own
//! stack, reserved but only committed as it is touched, large enough for anything the fuel
//! limit lets a template build.

use std::any::Any;
use std::sync::OnceLock;

/// Size of the evaluation stack. Only touched pages use memory.
pub const EVALUATION_STACK: usize = 512 * 1024 * 1024;

/// Called first thing on the new stack; what it returns is dropped when evaluation ends.
/// A host whose runtime measures stack depth (PostgreSQL does) re-bases it here.
pub type EnterHook = fn() -> Box<dyn Any>;

static ENTER: OnceLock<EnterHook> = OnceLock::new();

/// Registers the host's hook; only the first registration counts.
pub fn set_enter_hook(hook: EnterHook) {
    let _ = ENTER.set(hook);
}

/// Runs `f` on the evaluation stack. Panics inside `f` propagate to the caller.
pub fn run<R>(f: impl FnOnce() -> R) -> R {
    stacker::grow(EVALUATION_STACK, || {
        let _guard = ENTER.get().map(|enter| enter());
        f()
    })
}
