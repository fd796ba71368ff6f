//! Errors of the core. Each kind is one thing a caller may want to tell apart; the PostgreSQL
//! layer maps every kind to its own SQLSTATE (see the error table of docs/reference.md).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A required argument is SQL NULL.
    NullArgument,
    /// An argument has the right type but a value the function cannot accept.
    InvalidArgument,
    /// A variable or step name is longer than the limit.
    NameTooLong,
    /// A value, once stored, would be larger than `noetl_vars.max_value_bytes`.
    ValueTooLarge,
    /// Too deep or too much work: nesting limits, template fuel, recursion.
    TooComplex,
    /// A template does not parse.
    TemplateSyntax,
    /// A template refers to a name, key or index that does not exist.
    Undefined,
    /// A template calls a filter, test, function or method that does not exist.
    UnknownFunction,
    /// A template's operation failed at run time (wrong types, bad arguments, ...).
    Evaluation,
    /// Variables of one block read each other in a circle.
    Cycle,
    /// A template produced something JSON cannot hold (a macro, a function, bytes).
    NotJson,
    /// A template produced a number JSON cannot hold (NaN, infinity).
    NumberOutOfRange,
    /// Text with a NUL character, which PostgreSQL cannot store in `jsonb`.
    NulCharacter,
    /// Memory (or address space) the work needs could not be had.
    OutOfMemory,
    /// A limit the operator configures would be exceeded (e.g. locks per transaction).
    ConfigurationLimit,
    /// The operation cannot run in the current state (e.g. settings weakened at login).
    PrerequisiteState,
    /// The caller lacks a privilege the operation requires.
    Privilege,
    /// A concurrent transaction did what this one was about to do; retry it.
    SerializationFailure,
    /// A value does not match the JSON Schema its variable is declared with.
    SchemaViolation,
    /// A stored encrypted value does not decrypt: altered, copied from another row, or
    /// encrypted under a key of the same id that is not this one.
    Undecryptable,
}

impl ErrorKind {
    /// A short, stable name used in messages and tests.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::NullArgument => "null argument",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::NameTooLong => "name too long",
            ErrorKind::ValueTooLarge => "value too large",
            ErrorKind::TooComplex => "too complex",
            ErrorKind::TemplateSyntax => "syntax error",
            ErrorKind::Undefined => "undefined value",
            ErrorKind::UnknownFunction => "unknown function",
            ErrorKind::Evaluation => "evaluation error",
            ErrorKind::Cycle => "dependency cycle",
            ErrorKind::NotJson => "not representable as JSON",
            ErrorKind::NumberOutOfRange => "number out of range",
            ErrorKind::NulCharacter => "NUL character in text",
            ErrorKind::OutOfMemory => "out of memory",
            ErrorKind::ConfigurationLimit => "configuration limit exceeded",
            ErrorKind::PrerequisiteState => "not in the required state",
            ErrorKind::Privilege => "insufficient privilege",
            ErrorKind::SerializationFailure => "serialization failure",
            ErrorKind::SchemaViolation => "schema violation",
            ErrorKind::Undecryptable => "wrong key or corrupt data",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    pub fn null_argument(name: &str) -> Error {
        Error::new(ErrorKind::NullArgument, format!("{name} must not be NULL"))
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "\nDETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nHINT: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps an engine error onto the core's kinds.
pub(crate) fn eval_error(err: minijinja::Error) -> Error {
    eval_error_ref(&err)
}

/// An engine message with the operands of a failed calculation replaced by their types:
/// minijinja writes them out ("unable to calculate 987654321 // 0"), and they may be a
/// variable's value, which no error message may show (redacted ones included).
fn without_operands(detail: &str) -> String {
    const OPERATORS: [&str; 7] = ["+", "-", "*", "/", "//", "%", "**"];
    let Some(calculation) = detail.strip_prefix("unable to calculate ") else {
        return detail.to_string();
    };
    let kind = |operand: &str| {
        if operand.contains(['.', 'e', 'E', 'i', 'n']) {
            "float"
        } else {
            "integer"
        }
    };
    let parts: Vec<&str> = calculation.split(' ').collect();
    let shown = match parts.as_slice() {
        [lhs, op, rhs] if OPERATORS.contains(op) => format!("{} {op} {}", kind(lhs), kind(rhs)),
        [operand] if operand.starts_with('-') => format!("-{}", kind(&operand[1..])),
        _ => "an arithmetic operation".to_string(),
    };
    format!("unable to calculate {shown} (division by zero, or a result out of range)")
}

pub(crate) fn eval_error_ref(err: &minijinja::Error) -> Error {
    use minijinja::ErrorKind as K;
    if let Some(inner) = std::error::Error::source(err).and_then(|s| s.downcast_ref::<Error>()) {
        return Error {
            detail: None,
            ..inner.clone()
        };
    }
    let detail = err.detail().map(without_operands);
    let kind = match err.kind() {
        K::SyntaxError | K::BadEscape | K::InvalidDelimiter => ErrorKind::TemplateSyntax,
        K::UndefinedError => ErrorKind::Undefined,
        K::UnknownFilter | K::UnknownTest | K::UnknownFunction | K::UnknownMethod => {
            ErrorKind::UnknownFunction
        }
        K::OutOfFuel => ErrorKind::TooComplex,
        _ => match detail.as_deref() {
            // SemiStrict lets `vars.missing` through until it is used: `+` on it is still a
            // missing name, not a type error.
            Some(d) if d.contains("undefined") => ErrorKind::Undefined,
            Some(d)
                if d.contains("recursion limit")
                    || d.contains("too large")
                    || d.contains("too many elements")
                    || d.contains("nests deeper") =>
            {
                ErrorKind::TooComplex
            }
            _ => ErrorKind::Evaluation,
        },
    };
    let mut message = err.kind().to_string();
    if let Some(d) = &detail {
        message.push_str(": ");
        message.push_str(d);
    }
    let mut error = Error::new(kind, message);
    error.hint = match kind {
        ErrorKind::Undefined => Some(
            "use | default(…), \"is defined\" or a conditional to handle a missing name".into(),
        ),
        ErrorKind::TooComplex if err.kind() == K::OutOfFuel => {
            Some("raise noetl_vars.template_fuel if this template really needs more work".into())
        }
        _ => None,
    };
    error
}

#[cfg(test)]
mod tests {
    use super::without_operands;

    #[test]
    fn failed_calculations_name_operator_and_types_never_operands() {
        assert_eq!(
            without_operands("unable to calculate 987654321 // 0"),
            "unable to calculate integer // integer (division by zero, or a result out of range)"
        );
        assert_eq!(
            without_operands("unable to calculate 1.5 % 0.0"),
            "unable to calculate float % float (division by zero, or a result out of range)"
        );
        assert_eq!(
            without_operands("unable to calculate -170141183460469231731687303715884105728"),
            "unable to calculate -integer (division by zero, or a result out of range)"
        );
        assert!(!without_operands("unable to calculate 12 34 56 78").contains("12"));
        assert_eq!(without_operands("other message 5"), "other message 5");
    }
}
