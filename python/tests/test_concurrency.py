"""Concurrency through the pool, and running a transaction again after it lost a race."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest
from conftest import run_async
from psycopg_pool import ConnectionPool

import noetl_vars
from noetl_vars import render_vars, retrying, sync

TASKS = 8
STEPS = 25


def test_eight_tasks_incrementing_one_counter_lose_nothing(dsn: str, execution: int) -> None:
    block = {"counter": "{{ vars.counter | default(0) + 1 }}"}

    async def worker() -> None:
        for _ in range(STEPS):
            await render_vars(execution, "count", {}, block)

    async def body() -> None:
        await asyncio.gather(*(worker() for _ in range(TASKS)))

    run_async(dsn, body)
    assert sync.TransientVars.get_all_vars(execution) == {"counter": TASKS * STEPS}


def test_eight_threads_through_the_sync_pool(sync_pool: ConnectionPool, execution: int) -> None:
    block = {"counter": "{{ vars.counter | default(0) + 1 }}"}

    def worker() -> None:
        for _ in range(STEPS):
            sync.render_vars(execution, "count", {}, block)

    threads = [threading.Thread(target=worker) for _ in range(TASKS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sync.TransientVars.get_all_vars(execution) == {"counter": TASKS * STEPS}


def _serializable_increment(dsn: str, execution: int, barrier: threading.Barrier | None) -> int:
    """One SERIALIZABLE transaction reading and writing `n`; on a first attempt both racing
    transactions take their snapshots before either writes (the barrier), so the second to
    write fails with 40001."""
    with psycopg.connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
        with conn.transaction():
            conn.execute("SELECT 1")
            if barrier is not None:
                barrier.wait(timeout=30)
            row = conn.execute("SELECT noetl.get_all_vars(%s) ->> 'n'", (execution,)).fetchone()
            n = int(row[0]) if row and row[0] is not None else 0
            conn.execute("SELECT noetl.set_var(%s, 'n', %s::text::jsonb)", (execution, n + 1))
    return n + 1


def test_serialization_failures_are_retried(
    dsn: str, sync_pool: ConnectionPool, execution: int
) -> None:
    sync.TransientVars.set_cached("n", 0, execution)
    barrier = threading.Barrier(2)
    attempts: list[int] = []
    errors: list[BaseException] = []

    def one(retry: bool) -> None:
        first = [True]

        def transaction() -> int:
            attempts.append(1)
            racing = barrier if first[0] else None
            first[0] = False
            return _serializable_increment(dsn, execution, racing)

        try:
            retrying(transaction) if retry else transaction()
        except BaseException as e:  # collected for the assertion below
            errors.append(e)

    # Without the helper, one of two racing transactions fails with 40001.
    threads = [threading.Thread(target=one, args=(False,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1, errors
    assert isinstance(errors[0], psycopg.errors.SerializationFailure)

    # With it, both increments land.
    sync.TransientVars.set_cached("n", 0, execution)
    errors.clear()
    attempts.clear()
    barrier.reset()
    threads = [threading.Thread(target=one, args=(True,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(attempts) >= 3, "one of the two ran again"
    assert sync.TransientVars.get_all_vars(execution) == {"n": 2}


def test_only_retryable_errors_are_retried() -> None:
    calls: list[int] = []

    def fails() -> None:
        calls.append(1)
        raise noetl_vars.InvalidInput("bad", "22023")

    with pytest.raises(noetl_vars.InvalidInput):
        retrying(fails)
    assert calls == [1]

    def races() -> None:
        calls.append(1)
        raise noetl_vars.Retryable("lost", "40001")

    calls.clear()
    with pytest.raises(noetl_vars.Retryable):
        retrying(races, attempts=3, base_delay=0.001)
    assert calls == [1, 1, 1]
