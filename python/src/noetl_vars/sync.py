"""The synchronous twin of :mod:`noetl_vars.transient`, for scripts and tests: the same class,
methods and helpers, blocking, over the sync pool (``configure(sync_pool=...)``), driving the
same operations (:mod:`noetl_vars._ops`)."""

from __future__ import annotations

from typing import Any, cast

import psycopg

from . import _calls as q
from . import _ops
from ._ops import NO_FALLBACK, Op, Ttl
from ._pool import compat, sync_pool
from .errors import VarsError, from_psycopg

__all__ = ["TransientVars", "apply_set", "context_vars", "render_vars", "require"]


def _execute(op: Op) -> Any:
    """Runs the statements of ``op`` on one pooled connection, in one transaction."""
    try:
        step = next(op)
    except StopIteration as done:  # nothing to ask the database
        return done.value
    pool = sync_pool()
    try:
        with pool.connection() as conn:
            while True:
                cur = conn.execute(step.sql, step.params)
                rows = cur.fetchall() if step.many else cur.fetchone()
                try:
                    step = op.send(rows)
                except StopIteration as done:
                    return done.value
    except psycopg.Error as e:
        raise from_psycopg(e) from e


def _drive(op: Op, method: str = "") -> Any:
    """``op``'s result; in compat mode, the fallback NoETL returns for ``method`` on an error."""
    fallback = _ops.FALLBACKS.get(method, NO_FALLBACK)
    try:
        return _execute(op)
    except VarsError as e:
        if fallback is NO_FALLBACK or not compat():
            raise
        return q.swallowed(method, e, fallback)


class TransientVars:
    """Execution-scoped variables (``noetl.transient``)."""

    @staticmethod
    def get_cached(var_name: str, execution_id: int) -> dict[str, Any] | None:
        """The variable with its metadata (``value``, ``type``, ``source_step``,
        ``created_at``, ``accessed_at``, ``access_count``), counting the read; ``None`` when
        there is none."""
        found = _drive(_ops.get_cached(var_name, execution_id), "get_cached")
        return cast("dict[str, Any] | None", found)

    @staticmethod
    def set_cached(
        var_name: str,
        var_value: Any,
        execution_id: int,
        var_type: str = "user_defined",
        source_step: str | None = None,
    ) -> None:
        """Stores the variable (a new one, or over the old value)."""
        op = _ops.set_cached(var_name, var_value, execution_id, var_type, source_step)
        _drive(op, "set_cached")

    @staticmethod
    def get_all_vars(execution_id: int) -> dict[str, Any]:
        """``{name: value}`` of every variable, not counting reads; ``{}`` when none."""
        return cast("dict[str, Any]", _drive(_ops.get_all_vars(execution_id), "get_all_vars"))

    @staticmethod
    def get_all_vars_with_metadata(execution_id: int) -> dict[str, dict[str, Any]]:
        """``{name: {value, type, source_step, created_at, accessed_at, access_count}}``,
        oldest first, not counting reads."""
        op = _ops.get_all_vars_with_metadata(execution_id)
        return cast("dict[str, dict[str, Any]]", _drive(op, "get_all_vars_with_metadata"))

    @staticmethod
    def set_multiple(
        variables: dict[str, Any],
        execution_id: int,
        var_type: str = "user_defined",
        source_step: str | None = None,
    ) -> int:
        """Stores every member of ``variables`` in one statement, all or nothing; the number
        stored (0 for an empty dict, without a call). Raises in compat mode too, as NoETL's."""
        op = _ops.set_multiple(variables, execution_id, var_type, source_step)
        return cast(int, _drive(op, "set_multiple"))

    @staticmethod
    def delete_var(var_name: str, execution_id: int) -> bool:
        """Deletes the variable; whether there was one."""
        return cast(bool, _drive(_ops.delete_var(var_name, execution_id), "delete_var"))

    @staticmethod
    def cleanup_execution(execution_id: int) -> int:
        """Deletes every variable of the execution; how many there were."""
        op = _ops.cleanup_execution(execution_id)
        return cast(int, _drive(op, "cleanup_execution"))


def require(var_name: str, execution_id: int) -> dict[str, Any]:
    """As ``TransientVars.get_cached`` (the read is counted), but a missing variable raises
    :class:`noetl_vars.NotFound` instead of returning ``None``."""
    return cast("dict[str, Any]", _drive(_ops.require(var_name, execution_id)))


def render_vars(
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
    return cast("dict[str, Any]", _drive(op))


def apply_set(
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
    return cast("dict[str, Any]", _drive(op))


def context_vars(
    execution_id: int,
    step: str | None = None,
    iteration: int | None = None,
    playbook: str | None = None,
) -> dict[str, Any]:
    """Every scope's variables at once, as a render context (``noetl.context_vars``)."""
    op = _ops.context_vars(execution_id, step, iteration, playbook)
    return cast("dict[str, Any]", _drive(op))
