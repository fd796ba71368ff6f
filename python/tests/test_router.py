"""The /api/vars router through FastAPI's test client: NoETL's paths, status codes and bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool

import noetl_vars
from noetl_vars import _pool
from noetl_vars.fastapi import router

BIG = 12345678901234567890123


@pytest.fixture()
def client(dsn: str) -> Iterator[TestClient]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The application's pool, opened in the application's event loop.
        pool = AsyncConnectionPool(dsn, min_size=1, open=False)
        await pool.open()
        noetl_vars.configure(pool=pool)
        yield
        _pool._async = None
        await pool.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router, prefix="/api")
    with TestClient(app) as test_client:
        yield test_client


def test_the_five_endpoints(client: TestClient, execution: int) -> None:
    url = f"/api/vars/{execution}"
    posted = client.post(
        url,
        json={"variables": {"big": BIG, "token": "s3cr3t"}, "source_step": "ext"},
    )
    assert posted.status_code == 200
    assert posted.json() == {
        "execution_id": execution,
        "variables_set": 2,
        "var_names": ["big", "token"],
    }

    listed = client.get(url)
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 2 and body["execution_id"] == execution
    assert body["variables"]["big"]["value"] == BIG
    assert body["variables"]["token"]["value"] == "[REDACTED]"
    assert body["variables"]["big"]["source_step"] == "ext"

    got = client.get(f"{url}/big")
    assert got.status_code == 200
    assert got.json()["value"] == BIG and got.json()["access_count"] == 1
    assert datetime.fromisoformat(got.json()["created_at"]).tzinfo is not None

    missing = client.get(f"{url}/nope")
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"Variable 'nope' not found for execution {execution}"}

    assert client.delete(f"{url}/big").json() == {
        "execution_id": execution,
        "var_name": "big",
        "deleted": True,
    }
    assert client.delete(f"{url}/big").json()["deleted"] is False
    assert client.delete(url).json() == {"execution_id": execution, "deleted_count": 1}


def test_bad_requests(client: TestClient, execution: int) -> None:
    url = f"/api/vars/{execution}"
    empty = client.post(url, json={"variables": {}})
    assert empty.status_code == 400
    bad_type = client.post(url, json={"variables": {"a": 1}, "var_type": "nope"})
    assert bad_type.status_code == 400
    assert "Invalid var_type 'nope'" in bad_type.json()["detail"]
    assert client.post(url, json={"var_type": "computed"}).status_code == 422
    assert client.get("/api/vars/not-a-number").status_code == 422
    bad_name = client.post(url, json={"variables": {"": 1}})
    assert bad_name.status_code == 400
