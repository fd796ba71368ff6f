"""Where a call's instructions and time go: the typical step, its write alone (set_vars) and
baseline B1, split into parts.

- `phases`: from the callgrind runs of bench/instructions.py (200 and 400 calls), the
  inclusive instructions per call of the functions that do each part of the call, and each
  program object's own instructions (PostgreSQL, the extension, the C library);
- `time_split`: `perf record` (software clock, no hardware counters needed) of a backend
  running the same calls in the live cluster: the share of each object in the samples, times
  the measured time per call. With the instructions this gives each object's instructions per
  ns, and the kernel's time, which callgrind does not see (system calls, page faults).

Both are measurements for the report, never assertions.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

# The parts of each call, by the function that does it (its inclusive count; a name the
# compiler inlined away shows as missing). Patterns match the whole function name.
PARTS = {
    "render_vars": [
        ("the function call, all of it", r"render_vars_v\d+_wrapper"),
        ("parsing the block", r"<noetl_vars::blocks::vars_block::VarsBlock as noetl_vars::blocks::pipeline::BlockKind>::parse"),
        ("planning it (order, reads, writes)", r"noetl_vars_core::render::plan"),
        ("checking access", r"noetl_vars::blocks::access::Access::of"),
        ("locking the execution and the names", r"noetl_vars::backend::locks::Locks::acquire"),
        ("reading `vars.attempts`, row-locked", r"noetl_vars::storage::vars_store::PgStore::prefetch"),
        ("evaluating the five templates", r"noetl_vars_core::render::evaluate"),
        ("writing the five values and building the response",
         r"<noetl_vars::blocks::vars_block::VarsBlock as noetl_vars::blocks::pipeline::BlockKind>::write"),
        ("of which the upsert statement", r"noetl_vars::storage::table::upsert_object"),
    ],
    # An event id's first delivery, beside the same call passing none: what the id adds.
    "render_vars_event": [
        ("the function call, all of it", r"render_vars_v\d+_wrapper"),
        ("claiming the id", r"noetl_vars::storage::events::claim"),
        ("recording the result", r"noetl_vars::storage::events::record"),
        ("primary-key probes", r"noetl_vars::storage::direct::probe::row_at"),
        ("index entries inserted", r"index_insert"),
    ],
    "render_vars_no_event": [
        ("the function call, all of it", r"render_vars_v\d+_wrapper"),
        ("primary-key probes", r"noetl_vars::storage::direct::probe::row_at"),
        ("index entries inserted", r"index_insert"),
    ],
    "set_vars": [
        ("the function call, all of it", r"set_vars_v?\d*_?wrapper"),
        ("locking the execution and the names", r"noetl_vars::backend::locks::Locks::acquire"),
        ("of which the upsert statement", r"noetl_vars::storage::table::upsert_object"),
    ],
}
# Every kind: PL/pgSQL runs the statement (the call, or B1's INSERT) through SPI, then COMMIT.
COMMON = [
    ("the statement (PL/pgSQL's `PERFORM` or `INSERT`)", r"SPI_execute_plan_with_paramlist"),
    ("`COMMIT`", r"SPI_commit"),
]
# The kinds timed by `perf record` (time_split), and the kinds whose callgrind runs are split.
KINDS = ("render_vars", "set_vars", "baseline_b_precomputed")
PHASE_KINDS = KINDS + ("render_vars_event", "render_vars_no_event")
OBJECTS = {"postgres": "PostgreSQL", "noetl_vars.so": "the extension", "libc.so.6": "C library"}

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([\s\d.]+%\)\s+)?(\S+?):(.+?) \[(.+)\]\s*$")


def annotate(path, inclusive):
    """{(function, object file name): instructions} of a callgrind output file."""
    out = subprocess.run(["callgrind_annotate", "--show=Ir", f"--inclusive={'yes' if inclusive else 'no'}",
                          "--threshold=100", path], capture_output=True, text=True, check=True).stdout
    counts = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            key = (m.group(3).strip(), os.path.basename(m.group(4)))
            counts[key] = counts.get(key, 0) + int(m.group(1).replace(",", ""))
    return counts


def per_call(files, fn):
    """(fn(files[hi]) - fn(files[lo])) / (hi - lo), key by key."""
    (lo, a), (hi, b) = sorted((n, fn(path)) for n, path in files.items())
    return {k: (b.get(k, 0) - a.get(k, 0)) / (hi - lo) for k in set(a) | set(b)}


def phases(kind, files):
    """The parts of `kind`'s calls and each object's own instructions, per call; `files` maps
    a number of calls to its callgrind output."""
    inclusive = per_call(files, lambda p: annotate(p, True))
    own = per_call(files, lambda p: annotate(p, False))
    parts = []
    for label, pattern in PARTS.get(kind, []) + COMMON:
        rx = re.compile(pattern + r"$")
        hits = [v for (name, _), v in inclusive.items() if rx.fullmatch(name)]
        parts.append([label, max(hits) if hits else None])
    objects = {}
    for (_, obj), v in own.items():
        objects[OBJECTS.get(obj, "other")] = objects.get(OBJECTS.get(obj, "other"), 0) + v
    return {"parts": parts, "objects": objects}


def perf_available():
    return shutil.which("perf") is not None


def time_split(bench, connect, kinds=KINDS, calls=None):
    """µs per call of each object (and of the kernel), by `perf record` of the backend running
    bench_typical(kind); runs in alternation like the other timed parts."""
    calls = calls or bench.args.loop_calls

    def one(kind):
        tmp = tempfile.mkdtemp(prefix="noetl_vars_perf.")
        try:
            return sampled(connect, kind, calls, os.path.join(tmp, "perf.data"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    runs = {k: [] for k in kinds}
    for r in range(bench.args.runs):
        shift = r % len(kinds)
        for k in kinds[shift:] + kinds[:shift]:
            runs[k].append(one(k))
    # Of each kind, the run with the median time per call.
    return {k: sorted(v, key=lambda x: x["per_call_us"])[len(v) // 2] for k, v in runs.items()}


def sampled(connect, kind, calls, data):
    with connect() as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("CALL bench_typical(%s, 0, 20)", (kind,))
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "1999", "-p", str(pid), "-o", data],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # perf attaches
        conn.execute("CALL bench_typical(%s, 0, %s)", (kind, calls))
        us = conn.execute("SELECT per_call_us FROM bench_last").fetchone()[0]
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)
    out = subprocess.run(["perf", "report", "-i", data, "--sort", "dso", "--stdio", "-q"],
                         capture_output=True, text=True, check=True).stdout
    shares = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m:
            obj = m.group(2)
            name = "kernel" if obj.startswith("[kernel") else OBJECTS.get(obj, "other")
            shares[name] = shares.get(name, 0) + float(m.group(1)) / 100
    return {"per_call_us": us, "us": {k: v * us for k, v in shares.items()}}
