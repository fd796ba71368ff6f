//! Reporting: every core error becomes an ERROR (or, in skip mode, a WARNING) with the
//! SQLSTATE of its kind. The error table of docs/reference.md lists the same mapping.

use noetl_vars_core::{Error, ErrorKind};
use pgrx::{PgLogLevel, PgSqlErrorCode};

pub fn sqlstate(kind: ErrorKind) -> PgSqlErrorCode {
    use PgSqlErrorCode as C;
    match kind {
        ErrorKind::NullArgument => C::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        ErrorKind::InvalidArgument => C::ERRCODE_INVALID_PARAMETER_VALUE,
        ErrorKind::NameTooLong => C::ERRCODE_NAME_TOO_LONG,
        ErrorKind::ValueTooLarge => C::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        ErrorKind::TooComplex => C::ERRCODE_STATEMENT_TOO_COMPLEX,
        ErrorKind::TemplateSyntax => C::ERRCODE_SYNTAX_ERROR,
        ErrorKind::Undefined => C::ERRCODE_UNDEFINED_OBJECT,
        ErrorKind::UnknownFunction => C::ERRCODE_UNDEFINED_FUNCTION,
        ErrorKind::Evaluation => C::ERRCODE_DATA_EXCEPTION,
        ErrorKind::Cycle => C::ERRCODE_INVALID_RECURSION,
        ErrorKind::NotJson => C::ERRCODE_DATATYPE_MISMATCH,
        ErrorKind::NumberOutOfRange => C::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        ErrorKind::NulCharacter => C::ERRCODE_UNTRANSLATABLE_CHARACTER,
        ErrorKind::OutOfMemory => C::ERRCODE_OUT_OF_MEMORY,
        ErrorKind::ConfigurationLimit => C::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
        ErrorKind::PrerequisiteState => C::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        ErrorKind::Privilege => C::ERRCODE_INSUFFICIENT_PRIVILEGE,
        ErrorKind::SerializationFailure => C::ERRCODE_T_R_SERIALIZATION_FAILURE,
        ErrorKind::SchemaViolation => C::ERRCODE_CHECK_VIOLATION,
        // As pgcrypto's "Wrong key or corrupt data".
        ErrorKind::Undecryptable => C::ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION,
    }
}

fn report(err: &Error, level: PgLogLevel) {
    let mut report = pgrx::pg_sys::panic::ErrorReport::new(
        sqlstate(err.kind),
        err.message.clone(),
        "noetl_vars",
    );
    if let Some(detail) = &err.detail {
        report = report.set_detail(detail.clone());
    }
    if let Some(hint) = &err.hint {
        report = report.set_hint(hint.clone());
    }
    report.report(level);
}

/// Raises `err` as an ERROR; does not return.
pub fn raise(err: Error) -> ! {
    report(&err, PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Emits `err` as a WARNING and carries on.
pub fn warn(err: &Error) {
    report(err, PgLogLevel::WARNING);
}

/// Unwraps a core result or raises its error.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => raise(e),
        }
    }
}

/// Raises an error value.
pub trait Raise {
    fn raise(self) -> !;
}

impl Raise for Error {
    fn raise(self) -> ! {
        raise(self)
    }
}
