#!/usr/bin/env python3
"""The reference cannot drift from the extension: docs/reference.md's SQLSTATE table against
src/backend/errors.rs (and the SQL scripts' own RAISEs), its settings table against the settings the
library registers (names, defaults, who may set them), every function of schema noetl
against an entry in the reference, and every link between the README and the docs against
the file and heading it names. Uses the cluster in PGHOST/PGPORT, with the extension
installable. Exits non-zero, listing every difference, when anything disagrees."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "docs/reference.md").read_text()
SET_BLOCKS = (ROOT / "docs/set-blocks.md").read_text()
problems = []


def psql(sql):
    out = subprocess.run(
        ["psql", "-X", "-At", "-F", "\t", "-d", "noetl_vars_docs", "-c", sql],
        check=True, capture_output=True, text=True,
    ).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def table_rows(text, heading):
    """The rows of the first table after `heading`, as lists of cells."""
    after = text.split(heading, 1)[1]
    rows = []
    for line in after.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # header and separator


def sqlstates():
    """Every ERRCODE the Rust layer raises has a row; every row is raised by someone."""
    rust = set(re.findall(r"C::ERRCODE_([A-Z_]+)", (ROOT / "src/backend/errors.rs").read_text()))
    rust = {name.lower() for name in rust}
    sql_codes = set()
    for f in (ROOT / "sql").glob("*.sql"):
        sql_codes |= set(re.findall(r"ERRCODE = '([0-9A-Z]{5})'", f.read_text()))
    documented = {}
    for code, name, *rest in table_rows(REFERENCE, "## Errors and SQLSTATEs"):
        codes = [c.strip() for c in code.split(",")]
        names = re.findall(r"`([a-z_]+)`", name)
        if "PostgreSQL's own" in name or any(c.startswith("(PostgreSQL's own)") for c in rest):
            continue
        for c, n in zip(codes, names):
            documented[n] = c
    for name in sorted(rust - documented.keys()):
        problems.append(f"SQLSTATE: src/backend/errors.rs raises {name}, docs/reference.md has no row for it")
    # Rows the SQL scripts raise, and CREATE TABLE's own duplicate_table on a NoETL-made table.
    for name, code in sorted(documented.items()):
        if name not in rust and code not in sql_codes and code != "42P07":
            problems.append(f"SQLSTATE: docs/reference.md lists {code} {name}, which nothing raises")


def shown_default(boot_val, unit, vartype):
    if vartype == "bool":
        return boot_val
    if vartype == "string" and boot_val in ("", None):
        return "(none)"
    if unit in ("B", "kB", "MB") and boot_val not in ("", "0"):
        scale = {"B": 1, "kB": 1 << 10, "MB": 1 << 20}[unit]
        size = int(boot_val) * scale
        for suffix, bytes_ in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
            if size % bytes_ == 0:
                return f"{size // bytes_}{suffix}"
        return f"{size}B"
    return boot_val


def settings():
    rows = psql("SELECT name, boot_val, coalesce(unit, ''), vartype, context FROM pg_catalog.pg_settings "
                "WHERE name LIKE 'noetl\\_vars.%' ORDER BY name")
    registered = {name: (shown_default(boot, unit, vartype), context) for name, boot, unit, vartype, context in rows}
    documented = {}
    for name, default, who, *_ in table_rows(REFERENCE, "## Settings"):
        documented[name.strip("`")] = (default.strip("`"), who)
    for name in sorted(registered.keys() | documented.keys()):
        if name not in documented:
            problems.append(f"setting {name}: registered, not in docs/reference.md")
        elif name not in registered:
            problems.append(f"setting {name}: in docs/reference.md, not registered")
        else:
            (default, context), (doc_default, who) = registered[name], documented[name]
            want_who = {"superuser": "superuser", "user": "anyone", "sighup": "server configuration"}.get(context, context)
            if default != doc_default:
                problems.append(f"setting {name}: default {default}, docs/reference.md says {doc_default}")
            if want_who != who:
                problems.append(f"setting {name}: set by {want_who}, docs/reference.md says {who}")


def functions():
    names = {row[0] for row in psql(
        "SELECT DISTINCT proname FROM pg_catalog.pg_proc WHERE pronamespace = 'noetl'::regnamespace")}
    docs = REFERENCE + SET_BLOCKS
    for name in sorted(names):
        if not re.search(rf"\b{re.escape(name)}\(", docs):
            problems.append(f"function noetl.{name}: no entry in docs/reference.md or docs/set-blocks.md")


def slug(heading):
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def links():
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md"]
    pages += sorted((ROOT / "docs").glob("*.md"))
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}: link {target}"
            if not file.exists():
                problems.append(f"{where}: no such file")
            elif anchor and file.suffix == ".md":
                headings = {slug(l.lstrip("#")) for l in file.read_text().splitlines() if l.startswith("#")}
                if anchor not in headings:
                    problems.append(f"{where}: no such heading")


def main():
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "SET client_min_messages = warning",
                    "-c", "DROP DATABASE IF EXISTS noetl_vars_docs",
                    "-c", "CREATE DATABASE noetl_vars_docs"], check=True)
    try:
        psql("CREATE EXTENSION noetl_vars")
        sqlstates()
        links()
        settings()
        functions()
    finally:
        subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "DROP DATABASE noetl_vars_docs"], check=True)
    for p in problems:
        print("FAIL " + p)
    if problems:
        sys.exit(1)
    print("ok   docs/reference.md lists every SQLSTATE, setting and function the extension has, as it has them;"
          " every link of the docs resolves")


if __name__ == "__main__":
    main()
