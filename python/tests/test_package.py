"""The package itself: its version is the extension's, and it needs nothing but psycopg."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import psycopg

import noetl_vars

ROOT = Path(__file__).resolve().parents[2]


def test_version_is_the_extensions(dsn: str) -> None:
    cargo = (ROOT / "Cargo.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', cargo, re.MULTILINE)
    assert match is not None
    assert noetl_vars.__version__ == match[1] == metadata.version("noetl-vars")
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'noetl_vars'"
        ).fetchone()
    assert row == (noetl_vars.__version__,)


def test_it_depends_on_psycopg_and_its_pool_only() -> None:
    required = [r for r in metadata.requires("noetl-vars") or [] if "extra ==" not in r]
    names = sorted(re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower() for r in required)
    assert names == ["psycopg", "psycopg-pool"]
