"""Exceptions raised by the package, by SQLSTATE (docs/reference.md, "Errors and SQLSTATEs").

Every exception is a :class:`VarsError` carrying the ``sqlstate`` and the server's message, with
the original :mod:`psycopg` error as ``__cause__``::

    VarsError
    ├── NotFound            a variable that must exist does not (require)
    ├── InvalidInput        22004, 22023, 42622, 22P05, 22003 (a value the call refuses)
    │   └── SchemaViolation 23514 (a value its variable's declared JSON Schema refuses)
    ├── TemplateError       42601, 42704, 42883, 22000, 42P19, 42804 (+ step, variable, template)
    ├── LimitExceeded       54000, 54001, 53200, 53400 (a size, fuel, memory or lock limit)
    ├── Retryable           40001, 40P01, 55P03 (serialization failure, deadlock, lock_timeout)
    ├── PermissionDenied    42501
    ├── EncryptionError     39000, and 55000 about keys (no key configured, a key file or
    │                       command that fails, a value sealed with a key the ring lacks)
    └── DatabaseError       anything else (connection lost, cancelled, read-only transaction)

A missing variable is not an error for NoETL's methods: ``get_cached`` returns ``None``, as
NoETL's does; :func:`noetl_vars.require` raises :class:`NotFound` instead.
"""

from __future__ import annotations

import json
import re

import psycopg

__all__ = [
    "DatabaseError",
    "EncryptionError",
    "InvalidInput",
    "LimitExceeded",
    "NotFound",
    "PermissionDenied",
    "Retryable",
    "SchemaViolation",
    "TemplateError",
    "VarsError",
    "from_psycopg",
]


class VarsError(Exception):
    """An error of a ``noetl_vars`` call: ``sqlstate`` and the server's ``message``."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate


class NotFound(VarsError):
    """A variable that must exist does not (or its lifetime has ended)."""


class InvalidInput(VarsError):
    """The call refused an argument: a NULL, an empty or too long name, a bad ``var_type``,
    a value JSON cannot hold."""


class SchemaViolation(InvalidInput):
    """A value does not match the JSON Schema its variable is declared with
    (docs/typed-variables.md); the message names the variable, the keyword and where in the
    value, never the value. Nothing of the call was stored."""


class TemplateError(VarsError):
    """A template of a block failed. ``step``, ``variable`` and ``template`` name where (each
    ``None`` when the message does not say); the message never contains a variable's value."""

    def __init__(
        self,
        message: str,
        sqlstate: str | None = None,
        step: str | None = None,
        variable: str | None = None,
        template: str | None = None,
    ) -> None:
        super().__init__(message, sqlstate)
        self.step = step
        self.variable = variable
        self.template = template


class LimitExceeded(VarsError):
    """A limit of the extension: value size, template fuel or memory, locks per transaction."""


class Retryable(VarsError):
    """The transaction lost a race (serialization failure, deadlock, ``lock_timeout``): running
    it again is the remedy (:func:`noetl_vars.retry.retrying`)."""


class PermissionDenied(VarsError):
    """The role lacks a grant of docs/security.md, "Privileges"."""


class EncryptionError(VarsError):
    """A variable declared sensitive could not be encrypted or decrypted
    (docs/encryption.md): no key is configured, the key file or command fails, the value was
    sealed with a key the ring no longer holds (``sqlstate`` 55000), or it does not decrypt:
    altered, copied from another row, or another key under the same id (39000)."""


class DatabaseError(VarsError):
    """Any other database error: the connection, a cancel, a read-only transaction."""


_KINDS: dict[str, type[VarsError]] = {
    **dict.fromkeys(["22004", "22023", "42622", "22P05", "22003"], InvalidInput),
    **dict.fromkeys(["42601", "42704", "42883", "22000", "42P19", "42804"], TemplateError),
    **dict.fromkeys(["54000", "54001", "53200", "53400"], LimitExceeded),
    **dict.fromkeys(["40001", "40P01", "55P03"], Retryable),
    "42501": PermissionDenied,
    "23514": SchemaViolation,
    "39000": EncryptionError,
}

# The 55000 errors that are about keys (src/backend/keys.rs, src/storage/sealed.rs); any other
# 55000 stays a DatabaseError.
_KEY_PROBLEM = re.compile(
    r"^(no encryption key is configured|noetl_vars\.key_(file|command) |the key ring of "
    r"|.* is encrypted with key |.* could not be encrypted: )"
)

# `step "s", variable "x": <what> in template <source>`; names are quoted as JSON strings.
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_TEMPLATE = re.compile(
    rf"^step (?P<step>{_QUOTED}), variable (?P<variable>{_QUOTED}): .*? in template (?P<tpl>.*)$",
    re.DOTALL,
)


def _unquote(quoted: str) -> str | None:
    try:
        value = json.loads(quoted)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def from_psycopg(error: psycopg.Error) -> VarsError:
    """The package's exception for a :mod:`psycopg` error (raise it ``from`` the original)."""
    sqlstate = error.sqlstate
    diag = error.diag
    message = diag.message_primary or str(error)
    kind = _KINDS.get(sqlstate or "", DatabaseError)
    if sqlstate == "55000" and _KEY_PROBLEM.match(message):
        kind = EncryptionError
    if kind is TemplateError:
        match = _TEMPLATE.match(message)
        if match:
            return TemplateError(
                message,
                sqlstate,
                step=_unquote(match["step"]),
                variable=_unquote(match["variable"]),
                template=match["tpl"],
            )
        return TemplateError(message, sqlstate)
    return kind(message, sqlstate)
