//! Settings (`noetl_vars.*`). Limits are for operators (superuser or `ALTER SYSTEM`/`ALTER
//! ROLE`); how a render handles errors is the caller's choice.

use std::ffi::{CStr, CString};

use noetl_vars_core::limits::{self, Limits};
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::PostgresGucEnum;

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum OnRenderError {
    #[name = c"error"]
    Error,
    #[name = c"skip"]
    Skip,
}

pub static MAX_VALUE_BYTES: GucSetting<i32> =
    GucSetting::<i32>::new(limits::DEFAULT_MAX_VALUE_BYTES as i32);
pub static TEMPLATE_FUEL: GucSetting<i32> = GucSetting::<i32>::new(limits::DEFAULT_FUEL as i32);
pub static TEMPLATE_CACHE_SIZE: GucSetting<i32> =
    GucSetting::<i32>::new(limits::DEFAULT_CACHE_SIZE as i32);
pub static TEMPLATE_CACHE_BYTES: GucSetting<i32> =
    GucSetting::<i32>::new((limits::DEFAULT_CACHE_BYTES / 1024) as i32);
pub static ON_RENDER_ERROR: GucSetting<OnRenderError> =
    GucSetting::<OnRenderError>::new(OnRenderError::Error);
pub static REDACT_SECRETS: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static SCRUB_SECRETS: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static TRACK_HISTORY: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static NOTIFY: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static NOTIFY_NAMES: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static TEMPLATE_MEMORY: GucSetting<i32> = GucSetting::<i32>::new(256);
pub static MAX_TRANSACTION_LOCKS: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static SCHEMA_CACHE_BYTES: GucSetting<i32> = GucSetting::<i32>::new(4096);
pub static KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static KEY_COMMAND: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static ENCRYPT_SECRETS: GucSetting<bool> = GucSetting::<bool>::new(false);

/// The largest `jsonb` value PostgreSQL can store (a varlena is at most 1 GB, a jsonb
/// container addresses 256 MB).
const MAX_JSONB_BYTES: i32 = 0x0FFF_FFFF;

pub fn init() {
    // Values set at login without the privilege are rejected while these are defined; the
    // session then refuses to run (crate::backend::guard).
    crate::backend::guard::watching(|| {
        define_template_limits();
        define_store_limits();
        define_behaviour();
        define_encryption();
    });
    reserve_prefix(c"noetl_vars");
}

/// The limits on a template's work and memory, and on the compiled templates kept.
fn define_template_limits() {
    GucRegistry::define_int_guc(
        c"noetl_vars.template_memory",
        c"Memory one template evaluation may take.",
        c"Past it the statement fails with SQLSTATE 53200; a loop that reaches no interrupt check ends the session (FATAL) at twice this, instead of exhausting the server's memory.",
        &TEMPLATE_MEMORY,
        8,
        i32::MAX / 2,
        GucContext::Suset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"noetl_vars.template_fuel",
        c"Work one template may do: instructions plus bytes produced/64.",
        c"A template that needs more fails with SQLSTATE 54001; this bounds both time and memory.",
        &TEMPLATE_FUEL,
        100,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"noetl_vars.template_cache_size",
        c"Compiled templates each backend keeps.",
        c"Least recently used templates are compiled again when needed.",
        &TEMPLATE_CACHE_SIZE,
        1,
        1_000_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"noetl_vars.template_cache_memory",
        c"Memory the compiled templates of each backend may take.",
        c"Estimated as four bytes per byte of template source plus 2 kB each; least recently used templates are compiled again when needed.",
        &TEMPLATE_CACHE_BYTES,
        64,
        i32::MAX / 1024,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
}

/// The limits on what is stored and on the locks one transaction takes.
fn define_store_limits() {
    GucRegistry::define_int_guc(
        c"noetl_vars.max_value_bytes",
        c"Largest variable value that may be stored, in bytes.",
        c"Writes and renders that would store a larger value fail with SQLSTATE 54000 (or skip the variable when noetl_vars.on_render_error = skip).",
        &MAX_VALUE_BYTES,
        1024,
        MAX_JSONB_BYTES,
        GucContext::Suset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"noetl_vars.max_transaction_locks",
        c"Most advisory locks the noetl_vars functions may hold in one transaction.",
        c"0 (the default) follows max_locks_per_transaction, the share of the shared lock table each transaction is sized for. Each call locks its execution and up to 32 variables until the transaction ends; past the limit, a call fails with SQLSTATE 53400 before taking any.",
        &MAX_TRANSACTION_LOCKS,
        0,
        1_000_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"noetl_vars.schema_cache_memory",
        c"Memory the compiled schemas of typed variables each backend keeps may take.",
        c"Counted as the size of each schema's JSON text; past it, every kept schema is compiled again when next needed.",
        &SCHEMA_CACHE_BYTES,
        64,
        i32::MAX / 1024,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
}

/// What renders, the API bodies and change capture do.
fn define_behaviour() {
    GucRegistry::define_enum_guc(
        c"noetl_vars.on_render_error",
        c"What render_vars does when a variable fails: error (nothing is stored) or skip (warn and store the rest).",
        c"skip reproduces the NoETL server's historical behaviour.",
        &ON_RENDER_ERROR,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"noetl_vars.redact_secrets",
        c"Show credential-like values as \"[REDACTED]\" in vars_list and vars_get.",
        c"Keys such as token, secret, password, api_key, authorization or cookie, and strings holding a Bearer/Basic header, a JWT, a service token (sk-, AIza, ya29., ghp_, github_pat_, xoxb-, ...), a PEM private key or a URL with a key or token parameter. Stored data, get_var, get_all_vars and templates are never redacted.",
        &REDACT_SECRETS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"noetl_vars.scrub_secrets",
        c"Store credential-like values as \"[REDACTED]\" instead of the secret, on every write path.",
        c"The rules of redact_secrets, applied before a value is stored by set_var, set_vars, render_vars, render_iteration, apply_set and resume_execution; their results say which variables were scrubbed. The secret is never stored, so templates and get_var see \"[REDACTED]\" too.",
        &SCRUB_SECRETS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"noetl_vars.track_history",
        c"Append every write and delete of a variable to noetl.transient_history.",
        c"Recorded in the writing transaction (a rollback leaves no history); tracked reads are not recorded. Query it with noetl.var_at().",
        &TRACK_HISTORY,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"noetl_vars.notify",
        c"Send NOTIFY noetl_vars for each execution a committing transaction changed.",
        c"One notification per changed execution and committing transaction: the execution id and how many variables changed (their names too with noetl_vars.notify_names), never values.",
        &NOTIFY,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"noetl_vars.notify_names",
        c"Include the changed variable names in NOTIFY noetl_vars payloads.",
        c"Any role that can connect may LISTEN; off, a payload carries only the execution id and how many variables changed.",
        &NOTIFY_NAMES,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// Encryption at rest (docs/encryption.md): where the keys come from, set only in the server's
/// configuration, and whether credentials are encrypted besides the variables declared
/// sensitive.
fn define_encryption() {
    GucRegistry::define_string_guc(
        c"noetl_vars.key_file",
        c"File holding the keys that encrypt sensitive variables, one \"<key id> <key>\" per line, the first active.",
        c"Set in postgresql.conf (or ALTER SYSTEM) and reloaded; the file must belong to the server's operating system user and be readable by it alone. A key is 32 bytes, as 64 hex digits or in base64.",
        &KEY_FILE,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_string_guc(
        c"noetl_vars.key_command",
        c"Program that prints the keys that encrypt sensitive variables, in the format of noetl_vars.key_file.",
        c"Run without a shell or arguments by the session that first needs a key, and again when a value names a key it did not print; used when noetl_vars.key_file is empty.",
        &KEY_COMMAND,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_bool_guc(
        c"noetl_vars.encrypt_secrets",
        c"Encrypt at rest the values redact_secrets recognises as credentials, besides the variables declared sensitive.",
        c"The whole value of such a variable is encrypted on every write path of the extension's functions; vars_list and vars_get show it as \"[REDACTED]\".",
        &ENCRYPT_SECRETS,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// Rejects misspelt `noetl_vars.*` settings instead of silently creating placeholders.
fn reserve_prefix(prefix: &CStr) {
    // SAFETY: a NUL-terminated prefix; called once the settings are defined.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(prefix.as_ptr()) }
}

pub fn max_value_bytes() -> usize {
    MAX_VALUE_BYTES.get().max(0) as usize
}

pub fn limits() -> Limits {
    // SAFETY: a plain integer setting of the server, read on the backend's own thread.
    let max_stack_depth_kb = unsafe { pgrx::pg_sys::max_stack_depth }.max(0) as usize;
    Limits {
        fuel: Some(TEMPLATE_FUEL.get().max(1) as u64),
        cache_size: TEMPLATE_CACHE_SIZE.get().max(1) as usize,
        cache_bytes: (TEMPLATE_CACHE_BYTES.get().max(1) as usize).saturating_mul(1024),
        max_value_bytes: max_value_bytes(),
        // PostgreSQL checks its own recursion against max_stack_depth from where the
        // evaluation stack starts; give it that, and a margin for its checks' slack.
        host_stack: max_stack_depth_kb
            .saturating_mul(1024)
            .saturating_add(1 << 20),
    }
}

pub fn skip_errors() -> bool {
    ON_RENDER_ERROR.get() == OnRenderError::Skip
}

pub fn redact_secrets() -> bool {
    REDACT_SECRETS.get()
}

pub fn scrub_secrets() -> bool {
    SCRUB_SECRETS.get()
}

pub fn track_history() -> bool {
    TRACK_HISTORY.get()
}

pub fn notify() -> bool {
    NOTIFY.get()
}

/// `noetl_vars.template_memory` in bytes.
pub fn template_memory() -> usize {
    (TEMPLATE_MEMORY.get().max(1) as usize).saturating_mul(1 << 20)
}

pub fn notify_names() -> bool {
    NOTIFY_NAMES.get()
}

/// The lock budget of a transaction as configured: the setting, or PostgreSQL's
/// `max_locks_per_transaction` (the locks module never lets it fall below one call's worth).
pub fn max_transaction_locks() -> usize {
    let set = MAX_TRANSACTION_LOCKS.get().max(0) as usize;
    // SAFETY: a plain integer setting of the server, read on the backend's own thread.
    let per_xact = unsafe { pgrx::pg_sys::max_locks_per_xact }.max(0) as usize;
    if set == 0 {
        per_xact
    } else {
        set
    }
}

/// Bytes the compiled schemas of typed variables may take per backend.
pub fn schema_cache_bytes() -> usize {
    (SCHEMA_CACHE_BYTES.get().max(1) as usize).saturating_mul(1024)
}

pub fn encrypt_secrets() -> bool {
    ENCRYPT_SECRETS.get()
}

/// The key file, when one is set.
pub fn key_file() -> Option<String> {
    KEY_FILE
        .get()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
}

/// The key command, when one is set.
pub fn key_command() -> Option<String> {
    KEY_COMMAND
        .get()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
}
