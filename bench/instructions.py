"""Instructions per call of the typical step and its parts, counted by valgrind's callgrind.

Times move with the machine's load; instruction counts barely do (repeated counts agree within
a few tenths of a percent, B1's within 0.01%), so they show a change of a few percent that the
timings' spread would hide. A minute or two for the nine kinds.

Each count runs a backend in single-user mode (`postgres --single`) under callgrind, calling
bench_typical (bench/server.sql, which must be loaded) once with a few calls that warm the
session up and then with N calls, for N = 200 and 400; the per-call count is
(I(400) - I(200)) / 200, so the backend's start-up, the warm-up and the shutdown checkpoint
cancel out. Single-user mode needs the cluster stopped: bench/run.py stops and restarts it.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import callprofile

# bench_typical's kinds (the same statements as the timed parts in run.py), each call
# followed by a COMMIT inside the procedure.
KINDS = ("render_vars", "render_vars_event", "render_vars_no_event", "apply_set", "render_vars_declared", "render_vars_2_sensitive",
         "render_vars_10_other_watches",
         "render_vars_10_watches", "set_vars", "baseline_b_precomputed", "empty_block", "commit")
WARMUP = 20
CALLS = (200, 400)
# Counted again in bench_paused, back to back and with a pause before each call
# (bench/pauses.py): the step, B1, and the loop with its COMMIT and the pause alone.
PAUSED = ("render_vars", "baseline_b_precomputed", "commit")
PAUSE_US = 200


def as_pg(cmd):
    """A server program as scripts/cluster.sh runs it: PostgreSQL refuses to run as root, so as
    root it runs as `postgres` (the owner of the benchmark's cluster), and without Rust's
    backtrace settings, which the cluster's server does not have either."""
    cmd = ["env", "-u", "RUST_BACKTRACE", "-u", "RUST_LIB_BACKTRACE"] + cmd
    return ["sudo", "-u", "postgres", "--"] + cmd if os.geteuid() == 0 else cmd


def single_user(bindir, datadir, db, script, valgrind_out=None):
    """Runs `script` (one statement per line) in a single-user backend; returns its output."""
    cmd = [os.path.join(bindir, "postgres"), "--single", "-D", datadir,
           "-c", "synchronous_commit=off", db]
    if valgrind_out:
        # With its cache simulation: first-level misses show work that instructions do not.
        cmd = ["valgrind", "--tool=callgrind", "--cache-sim=yes",
               f"--callgrind-out-file={valgrind_out}"] + cmd
    out = subprocess.run(as_pg(cmd), input=script, capture_output=True, text=True)
    text = out.stdout + out.stderr
    # A failing statement does not end the backend, so its status alone says nothing.
    if out.returncode != 0 or re.search(r"\b(ERROR|FATAL|PANIC):", text):
        raise RuntimeError(f"single-user backend failed ({' '.join(cmd)}):\n{text[-4000:]}")
    return text


def run_totals(path):
    """The run's totals by event (Ir: instructions; I1mr, D1mr, D1mw: first-level cache
    misses of instruction fetches, data reads and writes): callgrind's `summary:` line."""
    events = None
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            if line.startswith(("summary:", "totals:")) and events:
                return dict(zip(events, map(int, line.split()[1:])))
    raise RuntimeError(f"no summary line in {path}")


def count(bindir, datadir, db, tmp, kind, pause_us=None, tag="run"):
    """Instructions per call of `kind` (bench_typical's; or with `pause_us`, bench_paused's,
    that pause before each call), its first-level misses per call, and the runs' totals; the
    callgrind files stay in `tmp`."""
    call = (lambda n: f"CALL bench_typical('{kind}', 0, {n});\n") if pause_us is None else \
        (lambda n: f"CALL bench_paused('{kind}', {pause_us}, {n});\n")
    events, totals = {}, {}
    for n in CALLS:
        # Every run starts from the same table: the dead versions the previous run left would
        # otherwise be pruned at the expense of this one.
        single_user(bindir, datadir, db, "VACUUM noetl.transient;\n")
        out = os.path.join(tmp, f"{kind}.{n}.out" if tag == "run" else f"{kind}.{tag}.{n}.out")
        single_user(bindir, datadir, db,
                    "SET synchronous_commit = off;\n" + call(WARMUP) + call(n),
                    valgrind_out=out)
        events[n] = run_totals(out)
        totals[str(n)] = events[n]["Ir"]
    lo, hi = CALLS
    e = {k: (events[hi].get(k, 0) - events[lo].get(k, 0)) / (hi - lo) for k in ("Ir", "I1mr", "D1mr", "D1mw")}
    return e["Ir"], {"instruction": e["I1mr"], "data": e["D1mr"] + e["D1mw"]}, totals


def measure(bindir, datadir, db, log=print):
    """Per-call instructions of every kind of KINDS, in the stopped cluster `datadir`.
    Returns {"per_call": {kind: instructions}, "totals": {kind: {N: I(N)}}, ...}."""
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="noetl_vars_callgrind.")
    if os.geteuid() == 0:
        # callgrind writes its output as the backend's user.
        shutil.chown(tmp, "postgres")
    try:
        # Execution 5 with its 100 variables and the five the step writes, made outside the
        # counted runs: the first call making them would count in one run of a pair and not in
        # the other (0.5% fewer instructions per call for render_vars).
        single_user(bindir, datadir, db, "CALL bench_typical('render_vars', 0, 1);\n")
        totals, per_call, misses = {}, {}, {}
        for kind in KINDS:
            per_call[kind], misses[kind], totals[kind] = count(bindir, datadir, db, tmp, kind)
            log("instructions", kind, round(per_call[kind]), "per call")
        # The same work back to back and with the backend sleeping before each call
        # (bench/pauses.py): the loop's and the sleep's own instructions are in `commit` too.
        paused = {str(pause): {kind: count(bindir, datadir, db, tmp, kind, pause, f"paused{pause}")[0]
                               for kind in PAUSED}
                  for pause in (0, PAUSE_US)}
        log("instructions back to back and after a pause", paused, "per call")
        # Where the instructions of the step, its write and B1 go (bench/profile.py).
        phases = {k: callprofile.phases(k, {n: os.path.join(tmp, f"{k}.{n}.out") for n in CALLS})
                  for k in callprofile.PHASE_KINDS if k in KINDS}
        single_user(bindir, datadir, db, "VACUUM noetl.transient;\n")
        # "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)" -> "PostgreSQL 15.20 (Debian …)"
        version = subprocess.run([os.path.join(bindir, "postgres"), "--version"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        version = "PostgreSQL " + version.split("(PostgreSQL) ", 1)[-1]
        valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True).stdout.strip()
        return {
            "per_call": per_call,
            "paused": {"pause_us": PAUSE_US, "per_call": paused},
            "l1_misses_per_call": misses,
            "phases": phases,
            "totals": totals,
            "warmup": WARMUP,
            "calls": list(CALLS),
            "postgresql": version,
            "valgrind": valgrind,
            "seconds": time.time() - started,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
