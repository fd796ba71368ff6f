"""Running a transaction again when it lost a race: a serialization failure (40001, at
REPEATABLE READ or SERIALIZABLE), a deadlock (40P01) or a ``lock_timeout`` (55P03). The
function given must be the whole transaction (it opens, runs and commits it), since a failed
transaction can only be rolled back; it is run again after a short, growing, jittered pause."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg

from .errors import Retryable

__all__ = ["RETRYABLE_SQLSTATES", "retrying", "retrying_async"]

T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def _retryable(error: BaseException) -> bool:
    if isinstance(error, Retryable):
        return True
    return isinstance(error, psycopg.Error) and error.sqlstate in RETRYABLE_SQLSTATES


def _pause(attempt: int, base_delay: float, max_delay: float) -> float:
    return float(min(max_delay, base_delay * 2**attempt) * random.uniform(0.5, 1.0))


def retrying(
    transaction: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay: float = 0.01,
    max_delay: float = 1.0,
) -> T:
    """``transaction()``, run again up to ``attempts`` times in all while it fails with a
    retryable error; the last error is raised."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return transaction()
        except Exception as e:
            if attempt + 1 == attempts or not _retryable(e):
                raise
            time.sleep(_pause(attempt, base_delay, max_delay))
    raise AssertionError("unreachable")


async def retrying_async(
    transaction: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    base_delay: float = 0.01,
    max_delay: float = 1.0,
) -> T:
    """:func:`retrying` for a coroutine function."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return await transaction()
        except Exception as e:
            if attempt + 1 == attempts or not _retryable(e):
                raise
            await asyncio.sleep(_pause(attempt, base_delay, max_delay))
    raise AssertionError("unreachable")
