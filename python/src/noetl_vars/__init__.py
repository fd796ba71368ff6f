"""NoETL's execution variables in PostgreSQL, through the ``noetl_vars`` extension.

Replacing NoETL's ``from noetl.worker.transient import TransientVars`` with
``from noetl_vars import TransientVars`` is the whole change; :func:`configure` sets the pool
(by default one over ``NOETL_VARS_DSN``). See README.md, "Using it from NoETL".
"""

from ._pool import ENV_DSN, configure
from .errors import (
    DatabaseError,
    EncryptionError,
    InvalidInput,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    Retryable,
    SchemaViolation,
    TemplateError,
    VarsError,
)
from .retry import retrying, retrying_async
from .transient import TransientVars, apply_set, context_vars, render_vars, require

__version__ = "0.6.0"

__all__ = [
    "ENV_DSN",
    "DatabaseError",
    "EncryptionError",
    "InvalidInput",
    "LimitExceeded",
    "NotFound",
    "PermissionDenied",
    "Retryable",
    "SchemaViolation",
    "TemplateError",
    "TransientVars",
    "VarsError",
    "__version__",
    "apply_set",
    "configure",
    "context_vars",
    "render_vars",
    "require",
    "retrying",
    "retrying_async",
]
