"""``TransientVars`` for asyncio, as NoETL's ``noetl/worker/transient.py`` declares it (same
class, methods, parameters, defaults and return shapes), over the extension's functions: one
call to the database per method, typed values, and errors raised (``configure(compat=True)``
for NoETL's logging and returning ``None``/``{}``/``False``/``0``). Plus the engine's calls:
render a ``vars:`` block, apply a ``set:`` block, read the render context. The operations
themselves are in :mod:`noetl_vars._ops`, shared with :mod:`noetl_vars.sync`."""

from __future__ import annotations

from typing import Any, cast

import psycopg

from . import _calls as q
from . import _ops
from ._ops import NO_FALLBACK, Op, Ttl
from ._pool import async_pool, compat
from .errors import VarsError, from_psycopg

__all__ = ["TransientVars", "apply_set", "context_vars", "render_vars", "require"]


async def _execute(op: Op) -> Any:
    """Runs the statements of ``op`` on one pooled connection, in one transaction."""
    try:
        step = next(op)
    except StopIteration as done:  # nothing to ask the database
        return done.value
    pool = await async_pool()
    try:
        async with pool.connection() as conn:
            while True:
                cur = await conn.execute(step.sql, step.params)
                rows = await (cur.fetchall() if step.many else cur.fetchone())
                try:
                    step = op.send(rows)
                except StopIteration as done:
                    return done.value
    except psycopg.Error as e:
        raise from_psycopg(e) from e


async def _drive(op: Op, method: str = "") -> Any:
    """``op``'s result; in compat mode, the fallback NoETL returns for ``method`` on an error."""
    fallback = _ops.FALLBACKS.get(method, NO_FALLBACK)
    try:
        return await _execute(op)
    except VarsError as e:
        if fallback is NO_FALLBACK or not compat():
            raise
        return q.swallowed(method, e, fallback)


class TransientVars:
    """Execution-scoped variables (``noetl.transient``)."""

    @staticmethod
    async def get_cached(var_name: str, execution_id: int) -> dict[str, Any] | None:
        """The variable with its metadata (``value``, ``type``, ``source_step``,
        ``created_at``, ``accessed_at``, ``access_count``), counting the read; ``None`` when
        there is none."""
        found = await _drive(_ops.get_cached(var_name, execution_id), "get_cached")
        return cast("dict[str, Any] | None", found)

    @staticmethod
    async def set_cached(
        var_name: str,
        var_value: Any,
        execution_id: int,
        var_type: str = "user_defined",
        source_step: str | None = None,
    ) -> None:
        """Stores the variable (a new one, or over the old value)."""
        op = _ops.set_cached(var_name, var_value, execution_id, var_type, source_step)
        await _drive(op, "set_cached")

    @staticmethod
    async def get_all_vars(execution_id: int) -> dict[str, Any]:
        """``{name: value}`` of every variable, not counting reads; ``{}`` when none."""
        return cast("dict[str, Any]", await _drive(_ops.get_all_vars(execution_id), "get_all_vars"))

    @staticmethod
    async def get_all_vars_with_metadata(execution_id: int) -> dict[str, dict[str, Any]]:
        """``{name: {value, type, source_step, created_at, accessed_at, access_count}}``,
        oldest first, not counting reads."""
        op = _ops.get_all_vars_with_metadata(execution_id)
        return cast("dict[str, dict[str, Any]]", await _drive(op, "get_all_vars_with_metadata"))

    @staticmethod
    async def set_multiple(
        variables: dict[str, Any],
        execution_id: int,
        var_type: str = "user_defined",
        source_step: str | None = None,
    ) -> int:
        """Stores every member of ``variables`` in one statement, all or nothing; the number
        stored (0 for an empty dict, without a call). Raises in compat mode too, as NoETL's."""
        op = _ops.set_multiple(variables, execution_id, var_type, source_step)
        return cast(int, await _drive(op, "set_multiple"))

    @staticmethod
    async def delete_var(var_name: str, execution_id: int) -> bool:
        """Deletes the variable; whether there was one."""
        return cast(bool, await _drive(_ops.delete_var(var_name, execution_id), "delete_var"))

    @staticmethod
    async def cleanup_execution(execution_id: int) -> int:
        """Deletes every variable of the execution; how many there were."""
        op = _ops.cleanup_execution(execution_id)
        return cast(int, await _drive(op, "cleanup_execution"))


async def require(var_name: str, execution_id: int) -> dict[str, Any]:
    """As ``TransientVars.get_cached`` (the read is counted), but a missing variable raises
    :class:`noetl_vars.NotFound` instead of returning ``None``."""
    return cast("dict[str, Any]", await _drive(_ops.require(var_name, execution_id)))


async def render_vars(
    execution_id: int,
    step: str,
    result: Any,
    config: dict[str, Any],
    context: dict[str, Any] | None = None,
    *,
    phase: str = "after",
    ttl: Ttl = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """Renders and stores a step's ``vars:`` block (``noetl.render_vars``); what it stored."""
    op = _ops.render_vars(execution_id, step, result, config, context, phase, ttl, event_id)
    return cast("dict[str, Any]", await _drive(op))


async def apply_set(
    execution_id: int,
    step: str,
    mutations: dict[str, Any],
    context: dict[str, Any] | None = None,
    *,
    iteration: int | None = None,
    playbook: str | None = None,
    ttl: Ttl = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """Applies a step's ``set:`` block (``noetl.apply_set``); what it wrote, by scope."""
    op = _ops.apply_set(execution_id, step, mutations, context, iteration, playbook, ttl, event_id)
    return cast("dict[str, Any]", await _drive(op))


async def context_vars(
    execution_id: int,
    step: str | None = None,
    iteration: int | None = None,
    playbook: str | None = None,
) -> dict[str, Any]:
    """Every scope's variables at once, as a render context (``noetl.context_vars``)."""
    op = _ops.context_vars(execution_id, step, iteration, playbook)
    return cast("dict[str, Any]", await _drive(op))
