//! Validation of the scalar arguments every function shares: names, types, phases.

use crate::error::{Error, ErrorKind, Result};

/// The longest variable name accepted, in bytes. PostgreSQL's B-tree cannot index keys much
/// past 2.7 kB, so a longer name would fail later with a less helpful message.
pub(crate) const MAX_NAME_BYTES: usize = 1024;

/// The four kinds of variable of the `transient_type_check` constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarType {
    UserDefined,
    StepResult,
    Computed,
    IteratorState,
}

pub(crate) const VAR_TYPES: [&str; 4] =
    ["user_defined", "step_result", "computed", "iterator_state"];

impl VarType {
    pub fn as_str(self) -> &'static str {
        match self {
            VarType::UserDefined => "user_defined",
            VarType::StepResult => "step_result",
            VarType::Computed => "computed",
            VarType::IteratorState => "iterator_state",
        }
    }

    pub fn parse(text: Option<&str>) -> Result<VarType> {
        match text {
            None => Err(Error::null_argument("var_type")),
            Some("user_defined") => Ok(VarType::UserDefined),
            Some("step_result") => Ok(VarType::StepResult),
            Some("computed") => Ok(VarType::Computed),
            Some("iterator_state") => Ok(VarType::IteratorState),
            Some(other) => Err(Error::invalid(format!("invalid var_type {}", quote(other)))
                .with_hint(format!("var_type must be one of {}", VAR_TYPES.join(", ")))),
        }
    }
}

/// The names every template has, whatever `context` holds.
pub(crate) const RESERVED: [&str; 9] = [
    "this",
    "result",
    "vars",
    "execution_id",
    "step",
    "workload",
    "job",
    "results",
    "null",
];

/// Which half of a before/after vars block applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Before,
    After,
}

impl Phase {
    pub fn parse(text: Option<&str>) -> Result<Phase> {
        match text {
            None => Err(Error::null_argument("phase")),
            Some("before") => Ok(Phase::Before),
            Some("after") => Ok(Phase::After),
            Some(other) => Err(Error::invalid(format!("invalid phase {}", quote(other)))
                .with_hint("phase must be 'before' or 'after'")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::After => "after",
        }
    }
}

/// Checks a variable name: present, not empty, not absurdly long. Any other character is
/// allowed, as the NoETL server allows it (templates reach odd names with `vars['a b']`).
pub fn var_name(name: Option<&str>) -> Result<&str> {
    named("var_name", name)
}

/// Checks a step name with the same rules as a variable name.
pub fn step_name(step: Option<&str>) -> Result<&str> {
    named("step", step)
}

fn named<'a>(what: &str, name: Option<&'a str>) -> Result<&'a str> {
    let name = name.ok_or_else(|| Error::null_argument(what))?;
    check_name(what, name)?;
    Ok(name)
}

/// The checks of [`var_name`] for a name that is known to be present.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::new(
            ErrorKind::NameTooLong,
            format!(
                "{what} is too long ({} bytes, the limit is {MAX_NAME_BYTES})",
                name.len()
            ),
        ));
    }
    Ok(())
}

/// Quotes a user-supplied string for a message, shortened so that a 10 kB argument does not
/// become a 10 kB error.
pub fn quote(text: &str) -> String {
    const SHOWN: usize = 64;
    let mut shown: String = text.chars().take(SHOWN).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("\"{}\"", shown.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_type_accepts_exactly_the_four_kinds() {
        for name in VAR_TYPES {
            assert_eq!(VarType::parse(Some(name)).unwrap().as_str(), name);
        }
        let err = VarType::parse(Some("secret")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert!(err.message.contains("\"secret\""));
        assert!(err.hint.unwrap().contains("iterator_state"));
        assert_eq!(
            VarType::parse(None).unwrap_err().kind,
            ErrorKind::NullArgument
        );
        assert!(VarType::parse(Some("USER_DEFINED")).is_err());
    }

    #[test]
    fn var_name_rejects_null_empty_and_oversized_names() {
        assert_eq!(var_name(Some("x")).unwrap(), "x");
        assert_eq!(var_name(None).unwrap_err().kind, ErrorKind::NullArgument);
        assert_eq!(
            var_name(Some("")).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(
            var_name(Some(&long)).unwrap_err().kind,
            ErrorKind::NameTooLong
        );
        assert!(var_name(Some(&"n".repeat(MAX_NAME_BYTES))).is_ok());
    }

    #[test]
    fn var_name_allows_quotes_percent_backslash_newline_and_unicode() {
        for name in ["it's", "100%", r"a\b", "two\nlines", "naïve ☃", "\"q\""] {
            assert_eq!(var_name(Some(name)).unwrap(), name);
        }
    }

    #[test]
    fn phase_is_before_or_after() {
        assert_eq!(Phase::parse(Some("before")).unwrap(), Phase::Before);
        assert_eq!(Phase::parse(Some("after")).unwrap(), Phase::After);
        assert_eq!(
            Phase::parse(Some("during")).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            Phase::parse(None).unwrap_err().kind,
            ErrorKind::NullArgument
        );
    }

    #[test]
    fn quote_shortens_long_text_and_escapes_control_characters() {
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
        let q = quote(&"x".repeat(10_000));
        assert!(q.chars().count() < 70, "{q}");
    }
}
