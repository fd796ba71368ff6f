"""Every operation of the package once, without I/O: a generator that yields the statements it
runs (:class:`Step`) and receives their rows, returning the method's result. The async
(:mod:`noetl_vars.transient`) and the sync (:mod:`noetl_vars.sync`) classes drive the same
generators over their connections, so the two cannot drift apart. Each operation also names
the fallback NoETL returns when it swallows an error (``configure(compat=True)``)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from . import _calls as q
from .errors import NotFound

__all__ = ["NO_FALLBACK", "Op", "Step"]

Ttl = timedelta | str | None


@dataclass(frozen=True)
class Step:
    """One statement of an operation; ``many`` asks for every row, else the first (or None)."""

    sql: str
    params: Any
    many: bool = False


# What a driver sends back for a Step: a row (tuple or None), or every row.
Rows = Any
Op = Generator[Step, Rows, Any]

# An operation that raises in compat mode too (NoETL's set_multiple does).
NO_FALLBACK = object()


def _value(step: Step) -> Op:
    """The single value of a one-column statement."""
    row = yield step
    return row[0] if row else None


def get_cached(var_name: str, execution_id: int) -> Op:
    found = yield Step(q.GET_VALUE, (execution_id, var_name))
    if found is None or found[0]:
        return None
    row = yield Step(q.GET_METADATA, (execution_id, var_name))
    return q.metadata(found[1], row) if row else None


def require(var_name: str, execution_id: int) -> Op:
    found = yield from get_cached(var_name, execution_id)
    if found is None:
        raise NotFound(f"variable {var_name!r} of execution {execution_id} does not exist")
    return found


def set_cached(
    var_name: str, var_value: Any, execution_id: int, var_type: str, source_step: str | None
) -> Op:
    value = q.jsonb(var_value, "var_value")
    yield from _value(Step(q.SET_ONE, (execution_id, var_name, value, var_type, source_step)))
    return None


def get_all_vars(execution_id: int) -> Op:
    return (yield from _value(Step(q.GET_ALL, (execution_id,))))


def get_all_vars_with_metadata(execution_id: int) -> Op:
    rows = yield Step(q.GET_ALL_WITH_METADATA, (execution_id,), many=True)
    return q.with_metadata(rows)


def set_multiple(
    variables: dict[str, Any], execution_id: int, var_type: str, source_step: str | None
) -> Op:
    if not variables:
        return 0
    params = (execution_id, q.jsonb(variables, "variables"), var_type, source_step)
    body = yield from _value(Step(q.SET_MANY, params))
    return int(body["variables_set"])


def delete_var(var_name: str, execution_id: int) -> Op:
    return bool((yield from _value(Step(q.DELETE_ONE, (execution_id, var_name)))))


def cleanup_execution(execution_id: int) -> Op:
    return int((yield from _value(Step(q.CLEANUP, (execution_id,)))))


# NoETL's fallback of each TransientVars method in compat mode.
FALLBACKS: dict[str, Any] = {
    "get_cached": None,
    "set_cached": None,
    "get_all_vars": {},
    "get_all_vars_with_metadata": {},
    "set_multiple": NO_FALLBACK,
    "delete_var": False,
    "cleanup_execution": 0,
}


def render_vars(
    execution_id: int,
    step: str,
    result: Any,
    config: dict[str, Any],
    context: dict[str, Any] | None,
    phase: str,
    ttl: Ttl,
    event_id: str | None,
) -> Op:
    params = {
        "execution_id": execution_id,
        "step": step,
        "result": q.jsonb(result, "result"),
        "config": q.jsonb(config, "config"),
        "context": q.jsonb(context or {}, "context"),
        "phase": phase,
        "ttl": ttl,
        "event_id": event_id,
    }
    return (yield from _value(Step(q.RENDER_VARS, params)))


def apply_set(
    execution_id: int,
    step: str,
    mutations: dict[str, Any],
    context: dict[str, Any] | None,
    iteration: int | None,
    playbook: str | None,
    ttl: Ttl,
    event_id: str | None,
) -> Op:
    params = {
        "execution_id": execution_id,
        "step": step,
        "mutations": q.jsonb(mutations, "mutations"),
        "context": q.jsonb(context or {}, "context"),
        "iteration": iteration,
        "playbook": playbook,
        "ttl": ttl,
        "event_id": event_id,
    }
    return (yield from _value(Step(q.APPLY_SET, params)))


def context_vars(
    execution_id: int, step: str | None, iteration: int | None, playbook: str | None
) -> Op:
    return (yield from _value(Step(q.CONTEXT_VARS, (execution_id, step, iteration, playbook))))
