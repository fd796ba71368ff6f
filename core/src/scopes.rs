//! The scopes of a `set:` block (docs/set-blocks.md) and how a block entry names a variable in one.
//!
//! A vars block (`render_vars`) writes only execution variables, and its entries are keyed by
//! the variable's name. A `set:` block also writes step-, iteration-, playbook- and
//! cluster-wide variables; their entries are keyed `"\0scope\0name"`, which no execution
//! variable's name can be (PostgreSQL text holds no NUL), so one key space serves the
//! dependency order, the values assigned so far and the host's locks.

/// The scopes a template reads as objects of their own in a `set:` block, besides `ctx`
/// (which is `vars`, the execution's variables).
pub const SET_SCOPES: [&str; 4] = ["step", "iter", "workflow", "global"];

/// Where a bare name of a `set:` block's template looks, most specific first (SPEC §10): the
/// iteration's variable, the step's, the execution's (`ctx`), the playbook's, the global one.
pub const BARE_NAME_ORDER: [&str; 5] = ["iter", "step", "ctx", "workflow", "global"];

/// The entry key of variable `name` of `scope` (one of [`SET_SCOPES`]).
pub fn key(scope: &str, name: &str) -> String {
    format!("\0{scope}\0{name}")
}

/// The scope (`None`: an execution variable) and name an entry key stands for.
pub fn split(key: &str) -> (Option<&str>, &str) {
    match key
        .strip_prefix('\0')
        .and_then(|rest| rest.split_once('\0'))
    {
        Some((scope, name)) => (Some(scope), name),
        None => (None, key),
    }
}

/// An entry key as the user wrote it: `step.x`, or `x` for an execution variable.
pub fn display(key: &str) -> String {
    match split(key) {
        (Some(scope), name) => format!("{scope}.{name}"),
        (None, name) => name.to_string(),
    }
}

/// The prefix every key of `scope` starts with.
pub fn prefix(scope: &str) -> String {
    // Pushed, not `format!`ted: several calls per `set:` block, and the formatting machinery
    // costs ten times the copy.
    let mut prefix = String::with_capacity(scope.len() + 2);
    prefix.push('\0');
    prefix.push_str(scope);
    prefix.push('\0');
    prefix
}

/// `scope` as one of [`SET_SCOPES`], with a static lifetime.
pub fn known(scope: &str) -> Option<&'static str> {
    SET_SCOPES.iter().copied().find(|s| *s == scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scoped_key_splits_back_into_its_scope_and_name() {
        let k = key("iter", "a.b");
        assert_eq!(split(&k), (Some("iter"), "a.b"));
        assert_eq!(display(&k), "iter.a.b");
        assert!(k.starts_with(&prefix("iter")));
        assert_eq!(prefix("step"), "\0step\0");
    }

    #[test]
    fn a_plain_name_is_an_execution_variable() {
        assert_eq!(split("step.x"), (None, "step.x"));
        assert_eq!(display("x"), "x");
        assert_eq!(known("global"), Some("global"));
        assert_eq!(known("ctx"), None);
    }
}
