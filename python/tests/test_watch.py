"""Variable watch end to end: a real HTTP receiver, the delivery worker (in this process and as
``python -m noetl_vars.watch`` killed mid-batch), concurrent writers, rollback, redaction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from noetl_vars.watch import EVENT, SIGNATURE, TIMESTAMP, Worker, verify


class Receiver:
    """A local webhook: records every POST (headers and body), answers ``status``, after
    ``delay`` seconds."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.received.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=t0k3n"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture()
def sql(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


def watch(sql: psycopg.Connection[Any], **kwargs: Any) -> tuple[int, str]:
    names = ", ".join(f"{k} => %({k})s" for k in kwargs)
    row = sql.execute(f"SELECT noetl.watch({names})", kwargs).fetchone()
    assert row is not None
    return int(row[0]["watch_id"]), str(row[0]["signing_secret"])


@pytest.fixture()
def unwatch(sql: psycopg.Connection[Any]) -> Iterator[None]:
    yield
    sql.execute("SELECT noetl.unwatch(watch_id) FROM noetl.watches")


def seqs(sql: psycopg.Connection[Any], watch_id: int) -> list[int]:
    rows = sql.execute(
        "SELECT seq FROM noetl.watch_outbox WHERE watch_id = %s ORDER BY seq", (watch_id,)
    )
    return [r[0] for r in rows]


def test_changes_reach_the_webhook_signed_with_an_idempotency_key(
    sql: psycopg.Connection[Any], receiver: Receiver, execution: int, dsn: str, unwatch: None
) -> None:
    watch_id, secret = watch(
        sql,
        url=receiver.url,
        execution_id=execution,
        headers=json.dumps({"Authorization": "Bearer hook-key"}),
        include_values="both",
    )
    sql.execute("SELECT noetl.set_var(%s, 'count', '1')", (execution,))
    sql.execute("SELECT noetl.set_var(%s, 'count', '2')", (execution,))
    sql.execute("SELECT noetl.delete_var(%s, 'count')", (execution,))
    worker = Worker(dsn)
    worker.run(until_idle=True)
    worker.close()
    bodies = receiver.bodies()
    assert [(b["kind"], b["operation"], b["old_value"], b["new_value"]) for b in bodies] == [
        ("set", "insert", None, 1),
        ("set", "update", 1, 2),
        ("delete", "delete", 2, None),
    ]
    assert {b["watch_id"] for b in bodies} == {watch_id}
    for headers, body in receiver.received:
        assert headers["Authorization"] == "Bearer hook-key"
        assert headers[EVENT] == str(json.loads(body)["event_id"])
        assert verify(secret, headers[TIMESTAMP], headers[SIGNATURE], body)
        assert not verify("another-secret-0123456789", headers[TIMESTAMP], headers[SIGNATURE], body)
        assert not verify(secret, headers[TIMESTAMP], headers[SIGNATURE], body + b" ")
    status = sql.execute(
        "SELECT pending, delivered, dead FROM noetl.watch_status WHERE watch_id = %s", (watch_id,)
    ).fetchone()
    assert status == (0, 3, 0)


def test_a_rolled_back_change_is_never_delivered(
    sql: psycopg.Connection[Any], receiver: Receiver, execution: int, dsn: str, unwatch: None
) -> None:
    watch(sql, url=receiver.url, execution_id=execution)
    with sql.transaction():
        sql.execute("SELECT noetl.set_var(%s, 'kept', '1')", (execution,))
    with pytest.raises(psycopg.errors.RaiseException), sql.transaction():
        sql.execute("SELECT noetl.set_var(%s, 'lost', '1')", (execution,))
        sql.execute("DO $$BEGIN RAISE EXCEPTION 'abort'; END$$")
    Worker(dsn).run(until_idle=True)
    assert [b["name"] for b in receiver.bodies()] == ["kept"]


def test_secrets_are_redacted_in_the_outbox_and_the_delivery(
    sql: psycopg.Connection[Any], receiver: Receiver, execution: int, dsn: str, unwatch: None
) -> None:
    watch_id, _ = watch(sql, url=receiver.url, execution_id=execution, include_values="both")
    sql.execute(
        "SELECT noetl.set_vars(%s, %s)",
        (execution, json.dumps({"api_token": "plain-but-named", "cfg": {"key": "sk-" + "a" * 30}})),
    )
    Worker(dsn).run(until_idle=True)
    sent = b"".join(body for _, body in receiver.received).decode()
    stored = sql.execute(
        "SELECT string_agg(coalesce(new_value::text, ''), ' ') FROM noetl.watch_outbox"
        " WHERE watch_id = %s",
        (watch_id,),
    ).fetchone()
    for text in (sent, stored[0] if stored else ""):
        assert "[REDACTED]" in text
        assert "plain-but-named" not in text
        assert "sk-aaaa" not in text


def test_failures_back_off_then_die_and_are_retried_on_request(
    sql: psycopg.Connection[Any], receiver: Receiver, execution: int, dsn: str, unwatch: None
) -> None:
    watch_id, _ = watch(sql, url=receiver.url, execution_id=execution, max_attempts=2)
    sql.execute("SELECT noetl.set_var(%s, 'x', '1')", (execution,))
    receiver.status = 503
    worker = Worker(dsn)
    assert worker.run_once() == "pending"
    assert worker.run_once() is None  # backing off
    sql.execute(
        "UPDATE noetl.watch_outbox SET next_attempt_at = now() WHERE watch_id = %s", (watch_id,)
    )
    assert worker.run_once() == "dead"
    row = sql.execute(
        "SELECT dead, last_error FROM noetl.watch_status WHERE watch_id = %s", (watch_id,)
    ).fetchone()
    assert row == (1, "HTTP 503")
    receiver.status = 200
    sql.execute("SELECT noetl.watch_retry(%s)", (watch_id,))
    assert worker.run_once() == "delivered"
    worker.close()
    assert len(receiver.received) == 3


def test_a_channel_watch_is_sent_with_notify(
    sql: psycopg.Connection[Any], execution: int, dsn: str, unwatch: None
) -> None:
    watch(sql, channel="noetl_vars_test_watch", execution_id=execution)
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute("LISTEN noetl_vars_test_watch")
        sql.execute("SELECT noetl.set_var(%s, 'n', '7')", (execution,))
        Worker(dsn).run(until_idle=True)
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert [json.loads(n.payload)["new_value"] for n in notes] == [7]


def _worker_process(dsn: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NOETL_VARS_DSN": dsn}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "noetl_vars.watch",
            "--poll-interval",
            "0.05",
            "--log-level",
            "ERROR",
        ],
        env=env,
    )


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_the_change_in_flight(
    sql: psycopg.Connection[Any], receiver: Receiver, execution: int, dsn: str, unwatch: None
) -> None:
    watch_id, _ = watch(sql, url=receiver.url, execution_id=execution)
    sql.execute(
        "SELECT noetl.set_vars(%s, %s)", (execution, json.dumps({f"v{i}": i for i in range(40)}))
    )
    expected = seqs(sql, watch_id)
    receiver.delay = 0.05
    first = _worker_process(dsn)
    deadline = time.monotonic() + 30
    while len(receiver.received) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    received_before = len(receiver.received)
    assert 10 <= received_before < len(expected)
    second = _worker_process(dsn)
    while time.monotonic() < deadline:
        done = sql.execute(
            "SELECT pending FROM noetl.watch_status WHERE watch_id = %s", (watch_id,)
        ).fetchone()
        if done == (0,):
            break
        time.sleep(0.05)
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0
    ids = [b["event_id"] for b in receiver.bodies()]
    assert sorted(set(ids)) == expected
    assert len(ids) - len(set(ids)) <= 1


def test_eight_writers_and_two_workers_deliver_every_change_once(
    sql: psycopg.Connection[Any], receiver: Receiver, execution: int, dsn: str, unwatch: None
) -> None:
    watch_id, _ = watch(sql, url=receiver.url, execution_id=execution, names=["w*"])

    def write(n: int) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for i in range(25):
                conn.execute("SELECT noetl.set_var(%s, %s, %s)", (execution, f"w{n}", str(i)))

    workers = [Worker(dsn, poll_interval=0.02) for _ in range(2)]
    runners = [threading.Thread(target=w.run) for w in workers]
    writers = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in runners + writers:
        t.start()
    for t in writers:
        t.join()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = sql.execute(
            "SELECT pending FROM noetl.watch_status WHERE watch_id = %s", (watch_id,)
        ).fetchone()
        if row == (0,):
            break
        time.sleep(0.05)
    for w in workers:
        w.stopping.set()
    for t in runners:
        t.join()
    for w in workers:
        w.close()
    ids = [b["event_id"] for b in receiver.bodies()]
    assert len(ids) == 200 and sorted(ids) == seqs(sql, watch_id)
    last = {
        b["name"]: b["new_value"] for b in sorted(receiver.bodies(), key=lambda b: b["event_id"])
    }
    assert last == {f"w{n}": 24 for n in range(8)}
