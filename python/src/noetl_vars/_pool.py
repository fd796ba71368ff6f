"""Where connections come from: one pool per process (one async, one sync), which the
application sets with :func:`configure`; by default a pool over the connection string in
the environment variable ``NOETL_VARS_DSN``, opened on first use."""

from __future__ import annotations

import os
import threading

from psycopg_pool import AsyncConnectionPool, ConnectionPool

from .errors import DatabaseError

__all__ = ["ENV_DSN", "async_pool", "compat", "configure", "sync_pool"]

ENV_DSN = "NOETL_VARS_DSN"

_lock = threading.Lock()
_async: AsyncConnectionPool | None = None
_made_async: AsyncConnectionPool | None = None
_sync: ConnectionPool | None = None
_conninfo: str | None = None
_compat = False


def configure(
    *,
    pool: AsyncConnectionPool | None = None,
    sync_pool: ConnectionPool | None = None,
    conninfo: str | None = None,
    compat: bool | None = None,
) -> None:
    """Sets what the package uses: the application's pools (``pool`` for
    :class:`noetl_vars.TransientVars`, ``sync_pool`` for :class:`noetl_vars.sync.TransientVars`),
    or a connection string for pools the package makes itself; and ``compat``, NoETL's
    behaviour of logging errors and returning ``None``/``{}``/``False``/``0`` instead of raising
    (for a cautious migration; off by default). Arguments left out keep their setting."""
    global _async, _sync, _conninfo, _compat
    with _lock:
        if pool is not None:
            _async = pool
        if sync_pool is not None:
            _sync = sync_pool
        if conninfo is not None:
            _conninfo = conninfo
        if compat is not None:
            _compat = compat


def compat() -> bool:
    """Whether NoETL's error-swallowing behaviour is on."""
    return _compat


def _dsn() -> str:
    dsn = _conninfo or os.environ.get(ENV_DSN)
    if not dsn:
        raise DatabaseError(
            f"no database configured: call noetl_vars.configure(pool=...) or set {ENV_DSN}"
        )
    return dsn


async def async_pool() -> AsyncConnectionPool:
    """The async pool, made and opened on first use when the application set none."""
    global _async, _made_async
    with _lock:
        if _async is None:
            _async = AsyncConnectionPool(_dsn(), open=False, min_size=1)
            _made_async = _async
        pool = _async
    if pool is _made_async:
        # Opening an open pool does nothing: every first caller may ask.
        await pool.open()
    return pool


def sync_pool() -> ConnectionPool:
    """The sync pool, made and opened on first use when the application set none."""
    global _sync
    with _lock:
        if _sync is None:
            _sync = ConnectionPool(_dsn(), open=True, min_size=1)
        return _sync
