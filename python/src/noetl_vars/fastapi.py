"""NoETL's ``/api/vars`` endpoints over the extension's body functions (``vars_list``,
``vars_get``, ``set_vars``, ``vars_delete``, ``vars_cleanup``): the same paths, status codes
and bodies, with the extension's redaction of credentials in what is read. Mount it where
NoETL mounts its own::

    from noetl_vars.fastapi import router
    app.include_router(router, prefix="/api")

Needs the ``fastapi`` extra (``pip install 'noetl-vars[fastapi]'``)."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import APIRouter, Body, HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from . import _calls as q
from ._pool import async_pool
from .errors import InvalidInput, VarsError, from_psycopg

__all__ = ["SetVariablesRequest", "router"]

VAR_TYPES = ("user_defined", "step_result", "computed", "iterator_state")

router = APIRouter(prefix="/vars", tags=["variables"])


class SetVariablesRequest(BaseModel):
    """The body of ``POST /api/vars/{execution_id}``, as NoETL declares it."""

    variables: dict[str, Any] = Field(..., description="Variables to set: {name: value}")
    var_type: str = Field("user_defined", description="Type of every variable")
    source_step: str | None = Field(None, description="The step (or system) setting them")


async def _body(sql: str, params: tuple[Any, ...]) -> Any:
    """The body a function returns; HTTP 500 naming the failure when it fails (as NoETL)."""
    pool = await async_pool()
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(sql, params)
            row = await cur.fetchone()
            return row[0] if row else None
    except psycopg.Error as e:
        error: VarsError = from_psycopg(e)
        status = 400 if isinstance(error, InvalidInput) else 500
        raise HTTPException(status_code=status, detail=error.message) from e


@router.get("/{execution_id}")
async def list_variables(execution_id: int = Path(..., description="Execution ID")) -> Any:
    """Every variable of the execution with its metadata; reads are not counted."""
    return JSONResponse(await _body(q.VARS_LIST, (execution_id,)))


@router.get("/{execution_id}/{var_name}")
async def get_variable(
    execution_id: int = Path(..., description="Execution ID"),
    var_name: str = Path(..., description="Variable name"),
) -> Any:
    """One variable with its metadata, counting the read; 404 when there is none."""
    body = await _body(q.VARS_GET, (execution_id, var_name))
    if body is None:
        raise HTTPException(
            status_code=404,
            detail=f"Variable '{var_name}' not found for execution {execution_id}",
        )
    return JSONResponse(body)


@router.post("/{execution_id}")
async def set_variables(
    execution_id: int = Path(..., description="Execution ID"),
    request: SetVariablesRequest = Body(...),
) -> Any:
    """Sets the variables of the body, all or nothing."""
    if not request.variables:
        raise HTTPException(
            status_code=400,
            detail="Request body must contain 'variables' dict with at least one variable",
        )
    if request.var_type not in VAR_TYPES:
        raise HTTPException(
            status_code=400,
            detail=f"Invalid var_type '{request.var_type}'. Must be one of: {', '.join(VAR_TYPES)}",
        )
    try:
        variables = q.jsonb(request.variables, "variables")
    except InvalidInput as e:
        raise HTTPException(status_code=400, detail=e.message) from e
    params = (execution_id, variables, request.var_type, request.source_step)
    return JSONResponse(await _body(q.SET_MANY, params))


@router.delete("/{execution_id}/{var_name}")
async def delete_variable(
    execution_id: int = Path(..., description="Execution ID"),
    var_name: str = Path(..., description="Variable name to delete"),
) -> Any:
    """Deletes one variable; ``deleted`` says whether there was one."""
    return JSONResponse(await _body(q.VARS_DELETE, (execution_id, var_name)))


@router.delete("/{execution_id}")
async def cleanup_execution(execution_id: int = Path(..., description="Execution ID")) -> Any:
    """Deletes every variable of the execution; ``deleted_count`` says how many."""
    return JSONResponse(await _body(q.VARS_CLEANUP, (execution_id,)))
