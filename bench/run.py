"""Runs every benchmark of noetl_vars against the cluster in PGHOST/PGPORT and writes the
report (docs/benchmarks.md) and the plot. Started by scripts/bench.sh, which sets everything up.

Timings are measured, never asserted: each measurement is repeated and reported as the median
with its spread (min-max); ratios are taken between measurements of the same run. Measurements
that are compared with each other are taken in alternation (one run of each, in rotating order,
then again), so that a slow spell of a shared machine lands on all of them alike.
"""

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import tempfile
import time

import psycopg

import baseline_a
import instructions
import report
import pauses
import waits
import callprofile
from workloads import (
    THREE_FIELDS_CONFIG,
    TYPICAL_CONFIG,
    TYPICAL_CONTEXT,
    TYPICAL_RESULT,
    TYPICAL_VALUES,
    TYPICAL_WORKLOAD,
    dumps,
    sized_result,
)

DB = "noetl_vars_bench"

UPSERT_TAIL = (
    " ON CONFLICT (execution_id, var_name) DO UPDATE SET var_value = EXCLUDED.var_value,"
    " var_type = EXCLUDED.var_type, source_step = EXCLUDED.source_step, accessed_at = now()"
)

SCRIPTS = {
    # The in-database path: one call per step.
    "render_vars": """\\set exec 100000 + :client_id
SELECT noetl.render_vars(:exec, 'fetch_users', :result::jsonb, :config::jsonb, :context::jsonb);
""",
    # Baseline B1: the step's values precomputed, written by one plain statement.
    "baseline_b_precomputed": """\\set exec 200000 + :client_id
INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step)
SELECT :exec, e.key, 'step_result', e.value, 'fetch_users' FROM jsonb_each(:values::jsonb) AS e"""
    + UPSERT_TAIL
    + ";\n",
    # Baseline B2: the same values extracted from the result with native operators, the
    # increment read from the table, in one plain statement.
    "baseline_b_native": """\\set exec 300000 + :client_id
INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step)
SELECT :exec, e.key, 'step_result', e.value, 'fetch_users'
FROM (SELECT :result::jsonb AS r,
             coalesce((SELECT var_value::int FROM noetl.transient
                       WHERE execution_id = :exec AND var_name = 'attempts'), 0) + 1 AS attempts) s,
LATERAL jsonb_each(jsonb_build_object(
    'first_user_id', s.r->'data'->'users'->0->'id',
    'user_count', jsonb_array_length(s.r->'data'->'users'),
    'status_label', CASE WHEN s.r->>'status' = 'ok' THEN 'done' ELSE 'retry' END,
    'attempts', s.attempts,
    'next_url', (:context::jsonb->'workload'->>'api_base') || '/users?page=' || s.attempts)) AS e"""
    + UPSERT_TAIL
    + ";\n",
    # What any call passing the step's result, block and context costs before doing anything:
    # the protocol and the arguments' parsing (jsonb_in), in a statement that writes nothing.
    "arguments_only": """SELECT (:result::jsonb) IS NULL, (:config::jsonb) IS NULL, (:context::jsonb) IS NULL;
""",
    # The same for B1's one argument, the five values computed beforehand.
    "b1_arguments_only": """SELECT (:values::jsonb) IS NULL;
""",
    "get_var": """\\set exec 400000 + :client_id
SELECT noetl.get_var(:exec, 'user_id');
""",
    "vars_get": """\\set exec 400000 + :client_id
SELECT noetl.vars_get(:exec, 'user_id');
""",
    "pk_select": """\\set exec 400000 + :client_id
SELECT var_value FROM noetl.transient WHERE execution_id = :exec AND var_name = 'user_id';
""",
    "set_vars_10": """\\set exec 500000 + :client_id
SELECT noetl.set_vars(:exec, :values10::jsonb, 'user_defined', 'api');
""",
    "baseline_b_set_10": """\\set exec 600000 + :client_id
INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step)
SELECT :exec, e.key, 'user_defined', e.value, 'api' FROM jsonb_each(:values10::jsonb) AS e"""
    + UPSERT_TAIL
    + ";\n",
    "render_iteration": """\\set i random(0, 999)
SELECT noetl.render_iteration(700000, 'fetch_page', jsonb_build_object('page', :i::int), :i, 1000,
                              :result::jsonb, '{"rows_seen": "{{ vars.rows_seen | default(0) + result.total }}"}');
""",
}

VALUES10 = {f"v{i}": {"n": i, "label": f"value {i}"} for i in range(10)}


def connect(dbname=DB, **kw):
    return psycopg.connect(dbname=dbname, autocommit=True, **kw)


def dsn():
    return f"host={os.environ['PGHOST']} port={os.environ['PGPORT']} user={os.environ.get('PGUSER', 'postgres')} dbname={DB}"


def summary(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "runs": samples}


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="noetl_vars_bench.")
        for name, text in SCRIPTS.items():
            with open(os.path.join(self.tmp, name + ".sql"), "w") as f:
                f.write(text)
        self.defines = {
            "result": dumps(TYPICAL_RESULT),
            "config": dumps(TYPICAL_CONFIG),
            "context": dumps(TYPICAL_CONTEXT),
            "values": dumps(TYPICAL_VALUES),
            "values10": dumps(VALUES10),
        }
        self.results = {}

    def log(self, *parts):
        print(*parts, flush=True)

    def sql(self, text, *params):
        with connect() as conn:
            return conn.execute(text, params).fetchall() if text.lstrip().upper().startswith(("SELECT", "WITH")) else conn.execute(text, params)

    def set_sync(self, on):
        with connect("postgres") as conn:
            conn.execute(f"ALTER DATABASE {DB} SET synchronous_commit = {'on' if on else 'off'}")

    def pgbench(self, script, clients, transactions=None):
        """One pgbench run; returns (tps, mean latency in ms)."""
        cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(clients)]
        cmd += ["-t", str(transactions)] if transactions else ["-T", str(self.args.duration)]
        for k, v in self.defines.items():
            cmd += ["-D", f"{k}={v}"]
        cmd += ["-f", os.path.join(self.tmp, script + ".sql"), DB]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0 or "number of failed transactions: 0" not in out.stdout:
            raise RuntimeError(f"pgbench {script} failed:\n{out.stdout}\n{out.stderr}")
        tps = latency = None
        for line in out.stdout.splitlines():
            if line.startswith("tps = "):
                tps = float(line.split()[2])
            if line.startswith("latency average = "):
                latency = float(line.split()[3])
        return tps, latency

    def repeat(self, fn):
        return summary([fn() for _ in range(self.args.runs)])

    def alternate(self, fns):
        """Runs each of `fns` once per round, the order rotating from round to round."""
        keys = list(fns)
        samples = {k: [] for k in keys}
        for r in range(self.args.runs):
            shift = r % len(keys)
            for k in keys[shift:] + keys[:shift]:
                samples[k].append(fns[k]())
        return {k: summary(v) for k, v in samples.items()}

    # ---- typical step -------------------------------------------------------------------
    def typical(self):
        out = {}
        for sync in (True, False):
            self.set_sync(sync)
            for clients in (1, 2, 8):
                key = f"sync_{'on' if sync else 'off'}_c{clients}"
                runs = {s: (lambda s=s: self.pgbench(s, clients)[0])
                        for s in ("render_vars", "baseline_b_precomputed", "baseline_b_native")}
                runs["baseline_a"] = lambda: self.baseline_a_tps(clients)
                row = out[key] = self.alternate(runs)
                self.log(key, {k: round(v["median"], 1) for k, v in row.items()}, "steps/s")
        # The in-database path driven by the same Python client as baseline A.
        self.set_sync(False)
        out["python_client_c1_sync_off"] = self.alternate({
            "render_vars": self.python_render_tps,
            "baseline_a": lambda: self.baseline_a_tps(1),
        })
        self.results["typical"] = out

    def waits(self):
        """Eight clients of the typical step and of B1: CPU per step and what the backends
        were doing (bench/waits.py)."""
        out = self.results["waits"] = waits.measure(self, dsn(), DB)
        self.log("waits", {k: (round(v["tps"]), round(v["server_cpu_us"]), round(v["client_cpu_us"]))
                           for k, v in out["kinds"].items()}, "(steps/s, server and client CPU µs/step)")

    def baseline_a_tps(self, clients):
        steps = self.args.python_steps
        with multiprocessing.Pool(clients) as pool:
            start = time.perf_counter()
            pool.starmap(
                baseline_a.run,
                [(dsn(), steps, 800000 + c, "fetch_users", TYPICAL_RESULT, TYPICAL_CONFIG, TYPICAL_WORKLOAD) for c in range(clients)],
            )
            elapsed = time.perf_counter() - start
        return clients * steps / elapsed

    def python_render_tps(self):
        steps = self.args.python_steps
        with psycopg.connect(dsn(), autocommit=True) as conn:
            call = "SELECT noetl.render_vars(%s, 'fetch_users', %s::jsonb, %s::jsonb, %s::jsonb)"
            args = (900000, self.defines["result"], self.defines["config"], self.defines["context"])
            conn.execute(call, args, prepare=True)
            start = time.perf_counter()
            for _ in range(steps):
                conn.execute(call, args, prepare=True)
            return steps / (time.perf_counter() - start)

    # ---- scaling, measured inside the server ---------------------------------------------
    def scaling(self):
        with connect() as conn:
            conn.execute(open(os.path.join(os.path.dirname(__file__), "server.sql")).read())
            out = {"result_size": {}, "variables": {}}
            for label, size in (("1 KB", 1_000), ("100 KB", 100_000), ("1 MB", 1_000_000)):
                r = dumps(sized_result(size))
                conn.execute("DELETE FROM bench_results WHERE label = %s", (label,))
                conn.execute("INSERT INTO bench_results VALUES (%s, %s::jsonb)", (label, r))
            labels = ("1 KB", "100 KB", "1 MB")
            kinds = ("render_vars", "baseline_b_native", "text_round_trip")
            measured = self.alternate({(l, k): (lambda k=k, l=l: self.call_proc("bench_result_size", k, l))
                                       for l in labels for k in kinds})
            for label in labels:
                row = out["result_size"][label] = {k: measured[(label, k)] for k in kinds}
                self.log("result", label, {k: round(v["median"], 1) for k, v in row.items()}, "µs/call")
            counts = (10, 1_000, 10_000)
            kinds = ("render_vars", "baseline_b_native")
            for n in counts:
                conn.execute("CALL bench_fill_execution(%s)", (n,))
            measured = self.alternate({(n, k): (lambda k=k, n=n: self.call_proc("bench_variables", k, n))
                                       for n in counts for k in kinds})
            for n in counts:
                row = out["variables"][str(n)] = {k: measured[(n, k)] for k in kinds}
                self.log("variables", n, {k: round(v["median"], 1) for k, v in row.items()}, "µs/call")
        self.results["scaling"] = out

    def call_proc(self, proc, kind, arg):
        with connect() as conn:
            conn.execute("SET synchronous_commit = off")
            # A few calls first, so that loading the library and preparing its statements in
            # this new session are not counted.
            conn.execute(f"CALL {proc}(%s, %s, %s)", (kind, arg, 10))
            conn.execute(f"CALL {proc}(%s, %s, %s)", (kind, arg, self.args.loop_calls))
            return conn.execute("SELECT per_call_us FROM bench_last").fetchone()[0]

    # ---- where the time of the typical call goes --------------------------------------------
    def parts(self):
        """The typical step beside its parts, in the server: its write alone (through set_vars
        and as baseline B1's plain statement), a call with an empty block, a bare COMMIT; and
        the core's template work alone, outside the database."""
        with connect() as conn:
            conn.execute(open(os.path.join(os.path.dirname(__file__), "server.sql")).read())
        kinds = ("render_vars", "render_vars_event", "render_vars_no_event", "apply_set", "render_vars_declared", "render_vars_2_sensitive",
                 "render_vars_10_other_watches",
                 "render_vars_10_watches", "set_vars", "baseline_b_precomputed", "empty_block", "commit")
        out = self.alternate({k: (lambda k=k: self.call_proc("bench_typical", k, 0)) for k in kinds})
        out["core"] = self.core_share()
        self.results["parts"] = out
        self.log("parts", {k: round(v["median"], 1) for k, v in out.items()}, "µs/call")

    def pauses(self):
        """The typical step, its write and B1 after the backend has waited, and committing with
        synchronous_commit on, beside back to back: CPU per call (bench/pauses.py)."""
        core_args = [dumps(TYPICAL_RESULT), dumps(TYPICAL_CONFIG), dumps(TYPICAL_CONTEXT), dumps({"attempts": 1})]
        out = self.results["pauses"] = pauses.measure(self, connect, self.args.core_bench, core_args)
        self.log("pauses", {k: {c: round(v["cpu_us"], 1) for c, v in row.items()} for k, row in out["kinds"].items()},
                 "core", {c: round(v["median"], 1) for c, v in out["core"].items()}, "CPU µs/call")

    def time_split(self):
        """The step, its write and B1 in the live cluster, sampled by perf: each program
        object's share of the time per call (bench/profile.py); left out without perf."""
        if not callprofile.perf_available():
            self.log("time split: perf is not installed, left out")
            return
        try:
            out = self.results["time_split"] = callprofile.time_split(self, connect)
        except (OSError, subprocess.SubprocessError) as err:
            # perf refused (perf_event_paranoid for a non-root user, no access to the
            # backend): the report leaves the split out rather than losing the whole run.
            self.log("time split: perf failed, left out:", err)
            return
        self.log("time split", {k: {o: round(us, 1) for o, us in v["us"].items()} for k, v in out.items()}, "µs/call")

    def core_share(self):
        """Parsing, planning and evaluating the typical block in the core alone (µs per call),
        with the variable it reads already in memory."""
        def once():
            out = subprocess.run(
                [self.args.core_bench, dumps(TYPICAL_RESULT), dumps(TYPICAL_CONFIG),
                 dumps(TYPICAL_CONTEXT), dumps({"attempts": 1}), "20000"],
                capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"{self.args.core_bench} failed: {out.stderr}")
            t = json.loads(out.stdout)
            return t["parse_us"] + t["plan_us"] + t["evaluate_us"]
        return self.repeat(once)

    def big_table(self):
        with connect() as conn:
            conn.execute(open(os.path.join(os.path.dirname(__file__), "server.sql")).read())
            before = self.repeat(lambda: self.call_proc("bench_typical", "render_vars", 0))
            conn.execute("CALL bench_fill_table(1000000, 10000)")
            rows = conn.execute("SELECT count(*) FROM noetl.transient").fetchone()[0]
            after = self.repeat(lambda: self.call_proc("bench_typical", "render_vars", 0))
            conn.execute("CALL bench_empty_table()")
        self.results["big_table"] = {"rows": rows, "small_table": before, "million_rows": after}
        self.log("1M rows", round(before["median"], 1), "->", round(after["median"], 1), "µs/call")

    # ---- instructions per call (callgrind) -------------------------------------------------
    def instructions(self):
        """The typical step and its parts in instructions per call (bench/instructions.py). A
        single-user backend needs the cluster stopped, so it is stopped meanwhile and started
        again as scripts/cluster.sh started it. Run before the timed parts: a failure shows in
        the first minutes rather than at the end, and the counts are taken on a database no
        other benchmark has written to yet."""
        if self.args.no_instructions or not self.args.data_dir:
            return
        with connect() as conn:
            conn.execute(open(os.path.join(os.path.dirname(__file__), "server.sql")).read())
        data = self.args.data_dir
        # (the server's log lies beside the data directory, as scripts/cluster.sh lays it out)
        log = os.path.join(os.path.dirname(os.path.abspath(data)), "server.log")

        def pg_ctl(*args):
            cmd = instructions.as_pg([os.path.join(self.args.pg_bin, "pg_ctl"), "-D", data, "-w", *args])
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}{out.stderr}")

        pg_ctl("-m", "fast", "stop")
        try:
            self.results["instructions"] = instructions.measure(self.args.pg_bin, data, DB, self.log)
        finally:
            # (pg_ctl appends to the log, where scripts/bench.sh looks for crashed backends)
            pg_ctl("-l", log, "-t", "60", "start")

    # ---- store ------------------------------------------------------------------------------
    def store(self):
        with connect() as conn:
            for c in range(1, 9):
                conn.execute("SELECT noetl.set_vars(%s, %s::jsonb)", (400000 + c, dumps({"user_id": 12345, "other": [1, 2, 3]})))
        out = {}
        for sync in (True, False):
            self.set_sync(sync)
            row = out[f"sync_{'on' if sync else 'off'}"] = self.alternate(
                {s: (lambda s=s: self.pgbench(s, 1)[0])
                 for s in ("get_var", "vars_get", "pk_select", "set_vars_10", "baseline_b_set_10")})
            self.log("store sync", sync, {k: round(v["median"], 1) for k, v in row.items()}, "calls/s")
        self.results["store"] = out

    # ---- iterations ---------------------------------------------------------------------------
    def iterations(self):
        self.set_sync(False)

        def one(c):
            self.sql("SELECT noetl.cleanup_execution(700000)")
            start = time.perf_counter()
            self.pgbench("render_iteration", c, transactions=1000 // c)
            elapsed = time.perf_counter() - start
            count = self.sql("SELECT noetl.get_var(700000, 'fetch_page_count')")[0][0]
            if count != 1000:
                raise RuntimeError(f"render_iteration counted {count}, not 1000")
            return 1000 / elapsed

        out = self.alternate({f"c{c}": (lambda c=c: one(c)) for c in (1, 8)})
        for key, s in out.items():
            self.log("render_iteration 1000 items, clients", key[1:], round(s["median"], 1), "items/s")
        self.results["iterations"] = out

    # ---- history -------------------------------------------------------------------------------
    def history(self):
        self.set_sync(False)

        def steps(on):
            # A database setting reaches the new sessions pgbench opens.
            with connect("postgres") as conn:
                conn.execute(f"ALTER DATABASE {DB} SET noetl_vars.track_history = {'on' if on else 'off'}")
            return self.pgbench("render_vars", 1)[0]

        out = self.alternate({"off": lambda: steps(False), "on": lambda: steps(True)})
        with connect("postgres") as conn:
            conn.execute(f"ALTER DATABASE {DB} RESET noetl_vars.track_history")
        self.results["history"] = out
        self.log("history", {k: round(v["median"], 1) for k, v in out.items()}, "steps/s")

    def environment(self):
        with connect() as conn:
            # Load the library so that its settings are defined in this session.
            conn.execute("SELECT noetl.capture_changes()")
            pg = conn.execute("SHOW server_version").fetchone()[0]
            ext = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'noetl_vars'").fetchone()[0]
            settings = dict(conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN ('shared_buffers', 'fsync', 'max_connections', 'wal_level', 'noetl_vars.template_fuel', 'noetl_vars.max_value_bytes')"
            ).fetchall())
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
        kb = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
        mem = f"{kb / 1024 / 1024:.0f} GiB"
        import jinja2

        self.results["environment"] = {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "memory": mem,
            "kernel": platform.release(),
            "postgresql": pg,
            "noetl_vars": ext,
            "python": platform.python_version(),
            "jinja2": jinja2.__version__,
            "psycopg": psycopg.__version__,
            "settings": settings,
            "runs": self.args.runs,
            "duration": self.args.duration,
            "loop_calls": self.args.loop_calls,
            "python_steps": self.args.python_steps,
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="repetitions of every measurement")
    parser.add_argument("--duration", type=int, default=5, help="seconds per pgbench run")
    parser.add_argument("--loop-calls", type=int, default=2000, help="calls per in-server measurement")
    parser.add_argument("--python-steps", type=int, default=400, help="steps per Python client run")
    parser.add_argument("--core-bench", default="../target/release/examples/typical_step",
                        help="the core's timing program (cargo build --release --example typical_step)")
    parser.add_argument("--out", default="../docs/benchmarks.md")
    parser.add_argument("--plot", default="bench/benchmarks.png")
    parser.add_argument("--json", default="bench/results.json")
    parser.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin",
                        help="the cluster's programs (pg_ctl, postgres), for the instruction counts")
    parser.add_argument("--data-dir", help="the cluster's data directory; without it, no instruction counts")
    parser.add_argument("--no-instructions", action="store_true",
                        help="skip the instruction counts (valgrind, about a minute)")
    args = parser.parse_args()

    with connect("postgres") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    with connect() as conn:
        conn.execute("CREATE EXTENSION noetl_vars")
    bench = Bench(args)
    bench.environment()
    started = time.time()
    for part in (bench.instructions, bench.typical, bench.waits, bench.store, bench.scaling, bench.parts, bench.pauses, bench.time_split, bench.big_table, bench.iterations, bench.history):
        part()
    bench.results["seconds"] = time.time() - started
    with open(args.json, "w") as f:
        json.dump(bench.results, f, indent=1)
    report.write(bench.results, args.out, args.plot)
    print(f"wrote {args.out}, {args.plot} and {args.json}")


if __name__ == "__main__":
    main()
