"""The tests run against the throwaway cluster of the test command (scripts/python_test.sh sets
NOETL_VARS_DSN to it); each test uses execution ids of its own and removes them."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

import noetl_vars
from noetl_vars import _pool

T = TypeVar("T")

DSN = os.environ.get("NOETL_VARS_DSN", "")
_ids = itertools.count(int(os.environ.get("NOETL_VARS_TEST_BASE", "7000000")))


@pytest.fixture(scope="session")
def dsn() -> str:
    if not DSN:
        pytest.fail("NOETL_VARS_DSN must name the test database (scripts/python_test.sh sets it)")
    return DSN


@pytest.fixture(scope="session")
def sync_pool(dsn: str) -> Iterator[ConnectionPool]:
    pool = ConnectionPool(dsn, min_size=1, max_size=10, open=True)
    noetl_vars.configure(sync_pool=pool)
    yield pool
    pool.close()


@pytest.fixture(autouse=True)
def _defaults() -> Iterator[None]:
    noetl_vars.configure(compat=False)
    yield
    noetl_vars.configure(compat=False)


@pytest.fixture()
def execution(dsn: str) -> Iterator[int]:
    """A fresh execution id, cleaned up afterwards."""
    execution_id = next(_ids)
    yield execution_id
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT noetl.cleanup_execution(%s)", (execution_id,))


def run_async(dsn: str, body: Callable[[], Awaitable[T]]) -> T:
    """``body()`` in a new event loop with an async pool of its own (a pool belongs to the loop
    that opened it)."""

    async def main() -> T:
        pool = AsyncConnectionPool(dsn, min_size=1, max_size=10, open=False)
        await pool.open()
        previous = _pool._async
        noetl_vars.configure(pool=pool)
        try:
            return await body()
        finally:
            _pool._async = previous
            await pool.close()

    return asyncio.run(main())
