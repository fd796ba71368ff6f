//! Letting the host interrupt a long evaluation.
//!
//! A template runs inside minijinja, which never hands control back on its own; fuel bounds the
//! work, but an operator may raise the fuel or simply want to cancel. The engine therefore polls
//! the host at the places long evaluations pass through: every 1024 items of a `range()`, every
//! member read from a document, every `{{ }}` output. PostgreSQL's host answers a pending cancel
//! or `statement_timeout` there by raising its ERROR.

use std::sync::OnceLock;

static POLL: OnceLock<fn()> = OnceLock::new();

/// Registers the host's poll function; only the first registration counts.
pub fn set_poll_hook(hook: fn()) {
    let _ = POLL.set(hook);
}

/// Gives the host a chance to interrupt.
#[inline]
pub fn poll() {
    if let Some(hook) = POLL.get() {
        hook();
    }
}
