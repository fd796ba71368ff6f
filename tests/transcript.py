#!/usr/bin/env python3
"""The psql transcripts of the docs come from real runs: docs/tutorial.md holds the output of
scripts/demo.sql (what ./scripts/demo.sh shows), and the README an excerpt of it. This runs
demo.sql on the cluster in PGHOST/PGPORT and fails when the tutorial's transcript, or one of the
README's excerpts, differs from what the extension answers now. Timestamps, column padding and
the lines the tutorial elides (a line starting with "…") are not compared.

    tests/transcript.py            check (the test command runs this)
    tests/transcript.py --write    rewrite docs/tutorial.md's transcript from this run"""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs/tutorial.md"
README = ROOT / "README.md"
DB = "noetl_vars_transcript"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d")


def run_demo():
    quiet = ["psql", "-X", "-q", "-d", "postgres", "-c", "SET client_min_messages = warning"]
    subprocess.run(quiet + ["-c", f"DROP DATABASE IF EXISTS {DB}", "-c", f"CREATE DATABASE {DB}"], check=True)
    try:
        # Unbuffered, and errors and warnings into the same pipe, so that each follows its
        # statement as on a terminal.
        out = subprocess.run(["stdbuf", "-o0", "-e0", "psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", DB,
                              "-f", "scripts/demo.sql"],
                             cwd=ROOT, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return [re.sub(r"^psql:[^:]+:\d+: ", "", line) for line in out.stdout.splitlines()]
    finally:
        subprocess.run(quiet + ["-c", f"DROP DATABASE {DB}"], check=True)


def block(text, opening="```text", nth=0):
    """The lines of the `nth` block that starts with `opening`."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(opening, start + 1)
    start += len(opening) + 1
    return text[start:text.index("```", start)].rstrip("\n").split("\n")


def normal(line):
    line = TIMESTAMP.sub("TIMESTAMP", line)
    line = re.sub(r"\s*\+$", "", line.rstrip())
    line = re.sub(r"-{3,}(\+-{3,})*", "---", line)
    return re.sub(r"\s+", " ", line).strip()


def matches(doc, actual):
    """Whether `doc` is `actual`, normalized, a line starting with "…" standing for any lines."""
    doc = [normal(l) for l in doc if normal(l)]
    actual = [normal(l) for l in actual if normal(l)]
    i = j = 0
    while i < len(doc):
        if doc[i].startswith("…"):
            # Any lines, up to where the next three lines of the doc follow.
            nxt = doc[i + 1:i + 4]
            while j < len(actual) and actual[j:j + len(nxt)] != nxt:
                j += 1
            i += 1
            continue
        if j >= len(actual) or doc[i] != actual[j]:
            return False, doc[i], actual[j] if j < len(actual) else "(end)"
        i += 1
        j += 1
    return (j == len(actual), "(end)", actual[j] if j < len(actual) else "(end)")


def contained(excerpt, whole):
    """Whether each section of `excerpt` (from a "--- …" line of the demo to the next) is a run
    of lines of `whole`."""
    wh = [normal(l) for l in whole if normal(l)]
    sections, current = [], []
    for line in (normal(l) for l in excerpt if normal(l)):
        if line.startswith("--- ") and current:
            sections.append(current)
            current = []
        current.append(line)
    sections.append(current)
    return all(any(wh[k:k + len(ex)] == ex for k in range(len(wh) - len(ex) + 1)) for ex in sections)


def main():
    actual = run_demo()
    tutorial = TUTORIAL.read_text()
    if "--write" in sys.argv:
        old = "\n".join(block(tutorial))
        TUTORIAL.write_text(tutorial.replace(old, "\n".join(actual)))
        print("wrote docs/tutorial.md; shorten long answers by hand with a line starting with …")
        return
    ok, want, got = matches(block(tutorial), actual)
    failed = False
    if not ok:
        print(f"FAIL docs/tutorial.md differs from a run of scripts/demo.sql:\n  doc: {want}\n  run: {got}")
        failed = True
    readme = README.read_text()
    for n in range(readme.count("```text")):
        if not contained(block(readme, nth=n), block(tutorial)):
            print(f"FAIL README.md's session {n + 1} is not an excerpt of docs/tutorial.md's transcript")
            failed = True
    if failed:
        print("(tests/transcript.py --write regenerates the tutorial's transcript from a run)")
        sys.exit(1)
    print("ok   the transcripts of docs/tutorial.md and README.md are what scripts/demo.sql answers")


if __name__ == "__main__":
    main()
