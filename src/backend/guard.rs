//! Refusing to run with protected settings weakened at login.
//!
//! The limits, history, change events and redaction are superuser settings
//! (`ALTER SYSTEM`, `ALTER DATABASE … SET`). When the library is preloaded
//! (`shared_preload_libraries = 'noetl_vars'`), PostgreSQL refuses a connection whose
//! startup options set one of them without the privilege. When it is loaded later, in the
//! backend, such a value (`options='-c noetl_vars.track_history=off'`, or a `SET` before the
//! first call) is only a placeholder: defining the setting then rejects it with a WARNING and
//! falls back to the built-in default, losing the operator's value as well. The extension
//! watches for that rejection while it defines its settings, and from then on every one of
//! its functions, and every write of `noetl.transient`, fails with 42501 in that session,
//! rather than run without the history or limits the operator configured.

use std::cell::RefCell;
use std::ffi::CStr;

use noetl_vars_core::{Error, ErrorKind};
use pgrx::pg_sys;

use crate::backend::errors::Raise;

thread_local! {
    /// The first protected setting the session tried to set without the privilege.
    static WEAKENED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The hook that was installed before ours, called after it.
static mut PREVIOUS: pg_sys::emit_log_hook_type = None;

/// The `noetl_vars.*` setting a message is about, if it names one.
fn setting_named(message: &str) -> Option<String> {
    let start = message.find("\"noetl_vars.")? + 1;
    let len = message[start..].find('"')?;
    Some(message[start..start + len].to_string())
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn watch(edata: *mut pg_sys::ErrorData) {
    // SAFETY: PostgreSQL passes the report being emitted; its message, when set, is a C
    // string that lives as long as the report.
    unsafe {
        if let Some(e) = edata.as_ref() {
            if e.elevel == pg_sys::WARNING as i32 && !e.message.is_null() {
                let message = CStr::from_ptr(e.message).to_string_lossy();
                if let Some(name) = setting_named(&message) {
                    WEAKENED.with(|w| {
                        w.borrow_mut().get_or_insert(name);
                    });
                }
            }
        }
        if let Some(previous) = PREVIOUS {
            previous(edata);
        }
    }
}

/// Restores the log hook and level however the definitions end.
struct Watching {
    level: i32,
}

impl Drop for Watching {
    fn drop(&mut self) {
        // SAFETY: backend globals, restored to what `watching` found.
        unsafe {
            pg_sys::emit_log_hook = PREVIOUS;
            pg_sys::log_min_messages = self.level;
        }
    }
}

/// Runs `define` (the definitions of the settings) watching for rejected values. Preloaded
/// in the postmaster, nothing can have been set at login yet, and nothing is watched.
pub fn watching(define: impl FnOnce()) {
    // SAFETY: backend globals read and set on the backend's only thread.
    let watching = unsafe {
        if pg_sys::process_shared_preload_libraries_in_progress {
            None
        } else {
            PREVIOUS = pg_sys::emit_log_hook;
            pg_sys::emit_log_hook = Some(watch);
            let level = pg_sys::log_min_messages;
            // The hook only sees reports that go to the server log.
            pg_sys::log_min_messages = level.min(pg_sys::WARNING as i32);
            Some(Watching { level })
        }
    };
    define();
    drop(watching);
}

/// Fails when a protected setting was weakened in this session.
pub fn check() {
    let Some(name) = WEAKENED.with(|w| w.borrow().clone()) else {
        return;
    };
    Error::new(
        ErrorKind::Privilege,
        format!(
            "noetl_vars refuses to run in this session: {name} was set at login or before the library was loaded, without the privilege to set it (or to an invalid value), and PostgreSQL fell back to its default"
        ),
    )
    .with_detail("Running would ignore the value the operator configured (history, change events, limits, redaction).")
    .with_hint(format!(
        "connect without setting {name}; add noetl_vars to shared_preload_libraries to refuse such connections at login"
    ))
    .raise();
}

#[cfg(test)]
mod tests {
    use super::setting_named;

    #[test]
    fn finds_the_setting_a_warning_names() {
        assert_eq!(
            setting_named("permission denied to set parameter \"noetl_vars.track_history\""),
            Some("noetl_vars.track_history".to_string())
        );
        assert_eq!(
            setting_named("invalid value for parameter \"noetl_vars.notify\": \"x\""),
            Some("noetl_vars.notify".to_string())
        );
        assert_eq!(
            setting_named("permission denied to set parameter \"work_mem\""),
            None
        );
    }
}
