"""TransientVars, async and sync, against the extension: NoETL's signatures and return shapes,
exact values, errors raised (or swallowed in compat mode)."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any

import psycopg
import pytest
from conftest import run_async
from psycopg_pool import ConnectionPool

import noetl_vars
from noetl_vars import sync
from noetl_vars.transient import TransientVars

BIG = 12345678901234567890123

# NoETL's noetl/worker/transient.py: every method's parameters, in order, with defaults.
NOETL_SIGNATURES = {
    "get_cached": [("var_name", None), ("execution_id", None)],
    "set_cached": [
        ("var_name", None),
        ("var_value", None),
        ("execution_id", None),
        ("var_type", "user_defined"),
        ("source_step", None),
    ],
    "get_all_vars": [("execution_id", None)],
    "get_all_vars_with_metadata": [("execution_id", None)],
    "set_multiple": [
        ("variables", None),
        ("execution_id", None),
        ("var_type", "user_defined"),
        ("source_step", None),
    ],
    "delete_var": [("var_name", None), ("execution_id", None)],
    "cleanup_execution": [("execution_id", None)],
}


@pytest.mark.parametrize("cls", [TransientVars, sync.TransientVars])
def test_methods_have_noetls_names_parameters_and_defaults(cls: type) -> None:
    for name, expected in NOETL_SIGNATURES.items():
        method = inspect.getattr_static(cls, name)
        assert isinstance(method, staticmethod), name
        params = inspect.signature(getattr(cls, name)).parameters.values()
        got = [
            (p.name, None if p.default is inspect.Parameter.empty else p.default) for p in params
        ]
        assert got == expected, name
        assert inspect.iscoroutinefunction(getattr(cls, name)) == (cls is TransientVars), name


def test_sync_round_trip_keeps_values_exact(sync_pool: ConnectionPool, execution: int) -> None:
    tv = sync.TransientVars
    assert tv.get_cached("missing", execution) is None
    tv.set_cached("big", BIG, execution, "computed", "prep")
    tv.set_cached("nothing", None, execution)
    assert tv.set_multiple({"a": 1.5, "b": [True, {"c": "ü"}]}, execution, "step_result", "s1") == 2
    assert tv.set_multiple({}, execution) == 0

    got = tv.get_cached("big", execution)
    assert got is not None
    assert got["value"] == BIG and isinstance(got["value"], int)
    assert (got["type"], got["source_step"], got["access_count"]) == ("computed", "prep", 1)
    assert isinstance(got["created_at"], datetime) and got["created_at"].tzinfo is not None
    again = tv.get_cached("big", execution)
    assert again is not None and again["access_count"] == 2

    stored_null = tv.get_cached("nothing", execution)
    assert stored_null is not None and stored_null["value"] is None, "JSON null is not 'missing'"

    assert tv.get_all_vars(execution) == {
        "big": BIG,
        "nothing": None,
        "a": 1.5,
        "b": [True, {"c": "ü"}],
    }
    meta = tv.get_all_vars_with_metadata(execution)
    assert list(meta) == ["big", "nothing", "a", "b"], "oldest first, then by name"
    assert meta["b"]["type"] == "step_result" and meta["b"]["source_step"] == "s1"
    assert meta["big"]["access_count"] == 2, "reads through the bulk methods are not counted"

    assert tv.delete_var("a", execution) is True
    assert tv.delete_var("a", execution) is False
    assert tv.cleanup_execution(execution) == 3
    assert tv.get_all_vars(execution) == {}


def test_async_round_trip(dsn: str, execution: int) -> None:
    async def body() -> dict[str, Any]:
        await TransientVars.set_cached("counter", 41, execution)
        got = await TransientVars.get_cached("counter", execution)
        assert got is not None and got["value"] == 41
        assert await TransientVars.set_multiple({"x": BIG}, execution) == 1
        assert await TransientVars.delete_var("nope", execution) is False
        return await TransientVars.get_all_vars(execution)

    assert run_async(dsn, body) == {"counter": 41, "x": BIG}


def test_errors_are_raised_by_default(sync_pool: ConnectionPool, execution: int) -> None:
    tv = sync.TransientVars
    with pytest.raises(noetl_vars.InvalidInput) as bad_type:
        tv.set_cached("x", 1, execution, var_type="no_such_type")
    assert bad_type.value.sqlstate == "22023"
    assert isinstance(bad_type.value.__cause__, psycopg.Error)
    with pytest.raises(noetl_vars.InvalidInput):
        tv.get_cached("", execution)
    with pytest.raises(noetl_vars.InvalidInput, match="not JSON"):
        tv.set_cached("x", float("nan"), execution)
    with pytest.raises(noetl_vars.InvalidInput):
        tv.set_multiple({"": 1}, execution)


def test_compat_mode_returns_noetls_fallbacks(sync_pool: ConnectionPool, execution: int) -> None:
    noetl_vars.configure(compat=True)
    tv = sync.TransientVars
    assert tv.get_cached("", execution) is None
    assert tv.set_cached("", 1, execution) is None
    assert tv.delete_var("", execution) is False
    # set_multiple raises in NoETL too.
    with pytest.raises(noetl_vars.InvalidInput):
        tv.set_multiple({"": 1}, execution)
    assert tv.get_all_vars(execution) == {}


def test_template_errors_name_step_variable_and_template(
    sync_pool: ConnectionPool, execution: int
) -> None:
    with pytest.raises(noetl_vars.TemplateError) as failed:
        sync.render_vars(execution, "fetch", {"rows": []}, {"first": "{{ result.rows[0].id }}"})
    error = failed.value
    assert error.sqlstate == "42704"
    assert (error.step, error.variable) == ("fetch", "first")
    assert error.template == "{{ result.rows[0].id }}"


def test_engine_helpers_render_apply_and_read(sync_pool: ConnectionPool, execution: int) -> None:
    out = sync.render_vars(
        execution, "fetch", {"total": 7}, {"n": "{{ result.total }}", "big": BIG}
    )
    assert out == {"n": 7, "big": BIG}
    applied = sync.apply_set(execution, "fetch", {"ctx.m": "{{ vars.n * 2 }}"})
    assert applied["ctx"] == {"m": 14}
    context = sync.context_vars(execution, "fetch")
    assert context["ctx"]["n"] == 7


def test_a_value_json_cannot_hold_is_refused_before_the_database(
    sync_pool: ConnectionPool, execution: int
) -> None:
    with pytest.raises(noetl_vars.InvalidInput, match="var_value is not JSON"):
        sync.TransientVars.set_cached("x", {1, 2}, execution)


def test_require_raises_not_found_where_get_cached_answers_none(
    dsn: str, sync_pool: ConnectionPool, execution: int
) -> None:
    with pytest.raises(noetl_vars.NotFound, match="'gone'"):
        sync.require("gone", execution)
    sync.TransientVars.set_cached("here", [1], execution)
    assert sync.require("here", execution)["value"] == [1]

    async def body() -> None:
        with pytest.raises(noetl_vars.NotFound):
            await noetl_vars.require("gone", execution)
        assert (await noetl_vars.require("here", execution))["access_count"] == 2

    run_async(dsn, body)


def test_typed_and_encrypted_variables_raise_their_own_errors(
    dsn: str, sync_pool: ConnectionPool, execution: int
) -> None:
    """A declared schema's refusal is a SchemaViolation (an InvalidInput); a sealed value that
    does not decrypt is an EncryptionError (docs/encryption.md; the test cluster has a key)."""
    tv = sync.TransientVars
    name, secret = f"py_typed_{execution}", f"py_secret_{execution}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('SELECT noetl.declare_var(%s, \'{"type": "integer"}\')', (name,))
        conn.execute("SELECT noetl.declare_var(%s, sensitive => true)", (secret,))
    try:
        with pytest.raises(noetl_vars.SchemaViolation) as refused:
            tv.set_cached(name, "twelve", execution)
        assert refused.value.sqlstate == "23514"
        assert isinstance(refused.value, noetl_vars.InvalidInput)
        assert "twelve" not in refused.value.message
        tv.set_cached(secret, {"token": "s3cret"}, execution)
        assert tv.get_all_vars(execution) == {secret: {"token": "s3cret"}}
        with psycopg.connect(dsn, autocommit=True) as conn:
            # A ciphertext altered in place no longer decrypts.
            conn.execute(
                "UPDATE noetl.transient SET var_value = jsonb_build_object('noetl_vars_sealed', "
                "overlay(var_value ->> 'noetl_vars_sealed' placing 'AAAA' from 12 for 4)) "
                "WHERE execution_id = %s AND var_name = %s",
                (execution, secret),
            )
        with pytest.raises(noetl_vars.EncryptionError) as undecryptable:
            tv.get_all_vars(execution)
        assert undecryptable.value.sqlstate == "39000"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT noetl.undeclare_var(%s), noetl.undeclare_var(%s)", (name, secret))


def test_key_problems_are_encryption_errors_and_other_55000_are_not() -> None:
    from noetl_vars.errors import from_psycopg

    for message in (
        "no encryption key is configured, so a sensitive variable cannot be stored or read",
        'noetl_vars.key_file "/etc/k" may be read or written by other users (mode 644)',
        'variable "t" of execution 7 is encrypted with key "k0", which the ring does not hold',
    ):
        error = from_psycopg(psycopg.errors.ObjectNotInPrerequisiteState(message))
        assert type(error) is noetl_vars.EncryptionError, message
    other = from_psycopg(
        psycopg.errors.ObjectNotInPrerequisiteState("noetl.transient has no expires_at column")
    )
    assert type(other) is noetl_vars.DatabaseError
