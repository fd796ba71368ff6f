"""The statements behind each method, shared by the async and the sync classes, and what each
returns when NoETL's ``compat`` behaviour swallows an error. Every value is a bound parameter;
every name is schema-qualified."""

from __future__ import annotations

import json
import logging
from typing import Any

from psycopg.types.json import Jsonb

from .errors import InvalidInput

logger = logging.getLogger("noetl_vars")

# The tracked read (access_count + 1): the function, so that an expired variable is absent
# and a hot standby answers uncounted. `v IS NULL` tells a missing variable (SQL NULL) from a
# stored JSON null, which psycopg also loads as None.
GET_VALUE = "SELECT v IS NULL, v FROM noetl.get_var(%s, %s) AS v"

# The row after the tracked read, in the same transaction (so the count includes it).
GET_METADATA = """
SELECT var_type, source_step, created_at, accessed_at, access_count
FROM noetl.transient
WHERE execution_id = %s AND var_name = %s
"""

SET_ONE = "SELECT noetl.set_var(%s, %s, %s, %s, %s)"
GET_ALL = "SELECT noetl.get_all_vars(%s)"
SET_MANY = "SELECT noetl.set_vars(%s, %s, %s, %s)"
DELETE_ONE = "SELECT noetl.delete_var(%s, %s)"
CLEANUP = "SELECT noetl.cleanup_execution(%s)"

# The /api/vars bodies, built in the database (credentials redacted in what is read).
VARS_LIST = "SELECT noetl.vars_list(%s)"
VARS_GET = "SELECT noetl.vars_get(%s, %s)"
VARS_DELETE = "SELECT noetl.vars_delete(%s, %s)"
VARS_CLEANUP = "SELECT noetl.vars_cleanup(%s)"

# Every live variable with its metadata, oldest first (as NoETL orders them); an expired one
# is left out as the extension's own reads leave it out.
GET_ALL_WITH_METADATA = """
SELECT var_name, var_value, var_type, source_step, created_at, accessed_at, access_count
FROM noetl.transient
WHERE execution_id = %s
  AND (expires_at IS NULL OR expires_at > pg_catalog.statement_timestamp())
ORDER BY created_at, var_name
"""

RENDER_VARS = """
SELECT noetl.render_vars(execution_id => %(execution_id)s, step => %(step)s,
                         result => %(result)s, config => %(config)s, context => %(context)s,
                         phase => %(phase)s, ttl => %(ttl)s::interval, event_id => %(event_id)s)
"""

APPLY_SET = """
SELECT noetl.apply_set(execution_id => %(execution_id)s, step => %(step)s,
                       mutations => %(mutations)s, context => %(context)s,
                       iteration => %(iteration)s, playbook => %(playbook)s,
                       ttl => %(ttl)s::interval, event_id => %(event_id)s)
"""

CONTEXT_VARS = """
SELECT noetl.context_vars(execution_id => %s, step => %s, iteration => %s, playbook => %s)
"""


def _dumps(value: Any) -> str:
    # NaN and infinity are not JSON: refused here rather than stored as text PostgreSQL rejects.
    return json.dumps(value, allow_nan=False)


def jsonb(value: Any, what: str) -> Jsonb:
    """``value`` as a jsonb parameter; :class:`InvalidInput` when JSON cannot hold it."""
    try:
        _dumps(value)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{what} is not JSON: {e}") from e
    return Jsonb(value, dumps=_dumps)


def metadata(value: Any, row: tuple[Any, ...]) -> dict[str, Any]:
    """NoETL's ``get_cached`` dict from a value and its row's metadata columns."""
    var_type, source_step, created_at, accessed_at, access_count = row
    return {
        "value": value,
        "type": var_type,
        "source_step": source_step,
        "created_at": created_at,
        "accessed_at": accessed_at,
        "access_count": access_count,
    }


def with_metadata(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    """NoETL's ``get_all_vars_with_metadata`` dict from ``GET_ALL_WITH_METADATA``'s rows."""
    return {row[0]: metadata(row[1], row[2:]) for row in rows}


def swallowed(method: str, error: Exception, fallback: Any | None) -> Any | None:
    """What ``method`` returns in compat mode after ``error``: NoETL's fallback, logged."""
    logger.warning("noetl_vars: %s failed, returning %r (compat): %s", method, fallback, error)
    return fallback
