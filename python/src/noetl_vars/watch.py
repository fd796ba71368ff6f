"""Delivery of variable watch changes: ``python -m noetl_vars.watch``.

The extension writes each change a watch (``noetl.watch``) matches to its outbox in the
changing transaction. This worker delivers them, one change per transaction:

1. ``noetl.watch_claim()`` locks the next due change (``FOR UPDATE SKIP LOCKED``: workers
   running side by side never get the same one);
2. the change is POSTed to the watch's URL (or sent with ``NOTIFY`` on its channel);
3. ``noetl.watch_delivered`` or ``noetl.watch_failed`` records the outcome, and the
   transaction commits.

A worker killed between 2 and 3 leaves the change pending (its transaction rolls back), so it
is delivered again: at least once, and a duplicate only of the change that was in flight.
Receivers drop duplicates by ``X-Noetl-Vars-Event`` (the body's ``event_id``) and check
``X-Noetl-Vars-Signature`` with :func:`verify`. A failed attempt is retried after a backoff
the extension keeps (``2^attempts`` seconds, at most an hour); after the watch's
``max_attempts`` the change is dead until ``noetl.watch_retry``. ``noetl.watch_status`` shows
each watch's pending, delivered and dead changes and its lag. See docs/watch.md.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import psycopg

from ._pool import ENV_DSN

__all__ = ["Claimed", "Worker", "body_bytes", "main", "sign", "verify"]

log = logging.getLogger("noetl_vars.watch")

USER_AGENT = "noetl-vars-watch/0.6.0"
#: PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
MAX_NOTIFY = 7900
SIGNATURE = "X-Noetl-Vars-Signature"
TIMESTAMP = "X-Noetl-Vars-Timestamp"
EVENT = "X-Noetl-Vars-Event"
ATTEMPT = "X-Noetl-Vars-Attempt"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256, keyed with the watch's
    signing secret, of the timestamp, a dot and the body as sent."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """For receivers: whether ``signature`` (the ``X-Noetl-Vars-Signature`` header) is the
    watch's signature of ``body`` at ``timestamp`` (``X-Noetl-Vars-Timestamp``), made no more
    than ``tolerance`` seconds from ``now`` (a replayed old delivery fails)."""
    try:
        at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, at, body), signature)


def body_bytes(body: dict[str, Any]) -> bytes:
    """The JSON sent for a change: compact, keys in a fixed order, UTF-8."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Claimed:
    """A change locked for delivery by this worker's open transaction."""

    seq: int
    watch_id: int
    url: str | None
    channel: str | None
    headers: dict[str, str]
    signing_secret: str
    attempts: int
    max_attempts: int
    body: dict[str, Any]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other: the change is not re-sent elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class DeliveryFailed(Exception):
    """An attempt that did not reach the receiver, or that it refused."""


class Worker:
    """Delivers changes over one connection, one transaction per change."""

    def __init__(self, conninfo: str, *, timeout: float = 10.0, poll_interval: float = 1.0):
        self.conninfo = conninfo
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.stopping = threading.Event()
        self.counts = {"delivered": 0, "failed": 0, "dead": 0}
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.conninfo, autocommit=True, application_name="noetl_vars.watch"
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run_once(self) -> str | None:
        """Claims and delivers one due change: ``"delivered"``, ``"pending"`` (failed, will be
        retried) or ``"dead"``; ``None`` when nothing is due."""
        conn = self._connection()
        with conn.transaction():
            row = conn.execute("SELECT * FROM noetl.watch_claim()").fetchone()
            if row is None:
                return None
            claimed = Claimed(*row)
            try:
                self._deliver(conn, claimed)
            except DeliveryFailed as failure:
                state = conn.execute(
                    "SELECT noetl.watch_failed(%s, %s)", (claimed.seq, str(failure))
                ).fetchone()
                outcome = str(state[0]) if state else "pending"
                self.counts["dead" if outcome == "dead" else "failed"] += 1
                log.warning(
                    "change %s of watch %s: attempt %s failed (%s)%s",
                    claimed.seq,
                    claimed.watch_id,
                    claimed.attempts + 1,
                    failure,
                    "; dead" if outcome == "dead" else "",
                )
                return outcome
            conn.execute("SELECT noetl.watch_delivered(%s)", (claimed.seq,))
        self.counts["delivered"] += 1
        log.debug("change %s of watch %s delivered", claimed.seq, claimed.watch_id)
        return "delivered"

    def _deliver(self, conn: psycopg.Connection[Any], claimed: Claimed) -> None:
        if claimed.channel is not None:
            payload = body_bytes(claimed.body)
            if len(payload) > MAX_NOTIFY:
                slim = {
                    k: v for k, v in claimed.body.items() if k not in ("old_value", "new_value")
                }
                payload = body_bytes({**slim, "values_omitted": True})
            conn.execute("SELECT pg_catalog.pg_notify(%s, %s)", (claimed.channel, payload.decode()))
            return
        if claimed.url is None:
            raise DeliveryFailed("the watch has neither url nor channel")
        self._post(claimed)

    def _post(self, claimed: Claimed) -> None:
        payload = body_bytes(claimed.body)
        now = int(time.time())
        headers = {
            **claimed.headers,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT: str(claimed.seq),
            ATTEMPT: str(claimed.attempts + 1),
            TIMESTAMP: str(now),
            SIGNATURE: sign(claimed.signing_secret, now, payload),
        }
        request = urllib.request.Request(claimed.url or "", payload, headers, method="POST")
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as err:
            raise DeliveryFailed(f"HTTP {err.code}") from None
        except (OSError, ValueError) as err:
            raise DeliveryFailed(f"{type(err).__name__}: {err}") from None

    def run(self, *, until_idle: bool = False, max_events: int | None = None) -> None:
        """Delivers until stopped (:attr:`stopping`, SIGTERM or SIGINT under :func:`main`);
        with ``until_idle``, until nothing is due. Waits ``poll_interval`` when idle, and
        reconnects after a lost connection."""
        handled = 0
        last_report = time.monotonic()
        while not self.stopping.is_set():
            if max_events is not None and handled >= max_events:
                return
            try:
                outcome = self.run_once()
            except psycopg.OperationalError as err:
                log.error("database connection lost (%s); reconnecting", err)
                self.close()
                self.stopping.wait(self.poll_interval)
                continue
            if outcome is None:
                if until_idle:
                    return
                self.stopping.wait(self.poll_interval)
            else:
                handled += 1
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                log.info("delivered %(delivered)s, failed %(failed)s, dead %(dead)s", self.counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m noetl_vars.watch",
        description="Delivers the changes of noetl_vars watches (docs/watch.md).",
    )
    parser.add_argument("--dsn", default=os.environ.get(ENV_DSN), help=f"default: ${ENV_DSN}")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per POST")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds when idle")
    parser.add_argument("--until-idle", action="store_true", help="stop when nothing is due")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error(f"--dsn or ${ENV_DSN} must name the database")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    worker = Worker(args.dsn, timeout=args.timeout, poll_interval=args.poll_interval)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stopping.set())
    log.info("delivering (pid %s)", os.getpid())
    try:
        worker.run(until_idle=args.until_idle)
    finally:
        worker.close()
        log.info(
            "stopped: delivered %(delivered)s, failed %(failed)s, dead %(dead)s", worker.counts
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
