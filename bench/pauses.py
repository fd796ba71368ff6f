"""What a call costs after its backend has waited. In-server measurements (*Where the time of a
call goes*) call back to back; under a client the backend waits between two steps (for the
client's next statement) and, with `synchronous_commit = on`, inside each step too (for the
commit's flush). This measures the same calls in four conditions, in alternation:

- back to back (`synchronous_commit = off`), as the in-server table;
- after a pause: the backend sleeps PAUSE_US (`pg_sleep`) before each call;
- after a busy wait: the backend spends PAUSE_US on the CPU instead (`bench_spin`), so that
  the same time passes (the WAL writer flushes, other processes run) without it sleeping;
- with `synchronous_commit = on`: each call's COMMIT waits for its flush.

The backend's own CPU time per call comes from /proc/<pid>/schedstat (the server runs on this
machine), with its minor page faults and voluntary context switches from /proc/<pid>/stat and
/status; `commit` (the loop and its COMMIT alone, with the pause) is subtracted. The core's
template work alone, outside the database, is timed the same two ways (core/examples/
typical_step.rs, its PAUSE_US argument). Run by bench/run.py; measures, never asserts."""

import json
import subprocess
import time

KINDS = ("render_vars", "set_vars", "baseline_b_precomputed", "commit")
PAUSE_US = 200
# condition: (pause before each call in µs, synchronous_commit on)
CONDITIONS = {"back_to_back": (0, False), "after_pause": (PAUSE_US, False),
              "after_busy_wait": (-PAUSE_US, False), "sync_on": (0, True)}


def counters(pid):
    """The backend's CPU time (ns), minor page faults and voluntary context switches so far."""
    with open(f"/proc/{pid}/schedstat") as f:
        cpu_ns = int(f.read().split()[0])
    with open(f"/proc/{pid}/stat") as f:
        minflt = int(f.read().rsplit(")", 1)[1].split()[7])
    with open(f"/proc/{pid}/status") as f:
        switches = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches:"))
    return {"cpu_us": cpu_ns / 1e3, "minor_faults": minflt, "switches": switches}


def one(connect, kind, pause_us, sync_on, calls):
    """`calls` calls of `kind` in one backend: its counters per call."""
    with connect() as conn:
        conn.execute(f"SET synchronous_commit = {'on' if sync_on else 'off'}")
        # A few calls first: loading the library and preparing statements are not counted.
        conn.execute("CALL bench_paused(%s, %s, %s)", (kind, pause_us, 10))
        pid = conn.execute("SELECT pg_catalog.pg_backend_pid()").fetchone()[0]
        before = counters(pid)
        conn.execute("CALL bench_paused(%s, %s, %s)", (kind, pause_us, calls))
        after = counters(pid)
    return {k: (after[k] - before[k]) / calls for k in before}


def core(core_bench, args, pause_us, calls):
    """The core's parsing, planning and evaluating of the typical block, µs per call."""
    out = subprocess.run([core_bench, *args, str(calls), str(pause_us)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{core_bench} failed: {out.stderr}")
    t = json.loads(out.stdout)
    return t["parse_us"] + t["plan_us"] + t["evaluate_us"]


def measure(bench, connect, core_bench, core_args):
    """Every kind in every condition, in alternation (bench.alternate); per kind and condition
    the median CPU µs per call with `commit`'s subtracted, and the counters of the median run."""
    calls = bench.args.loop_calls
    seen = {}

    def run(kind, condition):
        c = one(connect, kind, *CONDITIONS[condition], calls)
        seen.setdefault((kind, condition), []).append(c)
        return c["cpu_us"]

    measured = bench.alternate({(k, c): (lambda k=k, c=c: run(k, c)) for k in KINDS for c in CONDITIONS})
    out = {"pause_us": PAUSE_US, "calls": calls, "kinds": {}}
    for condition in CONDITIONS:
        loop = measured[("commit", condition)]["median"]
        for kind in KINDS[:-1]:
            runs = sorted(seen[(kind, condition)], key=lambda c: c["cpu_us"])
            median_run = runs[len(runs) // 2]
            out["kinds"].setdefault(kind, {})[condition] = {
                "cpu_us": measured[(kind, condition)]["median"] - loop,
                "min": measured[(kind, condition)]["min"] - loop,
                "max": measured[(kind, condition)]["max"] - loop,
                "minor_faults": median_run["minor_faults"],
                "switches": median_run["switches"],
            }
    out["core"] = bench.alternate({
        "back_to_back": lambda: core(core_bench, core_args, 0, 20000),
        "after_pause": lambda: core(core_bench, core_args, PAUSE_US, 4000),
    })
    out["hardware_counters"] = hardware_counters()
    out["flushes"] = flushes(bench, connect)
    return out


WAL = """SELECT wal_sync, wal_sync_time, wal_records, wal_bytes FROM pg_catalog.pg_stat_wal"""
COMMITS = """SELECT xact_commit FROM pg_catalog.pg_stat_database WHERE datname = pg_catalog.current_database()"""


def flushes(bench, connect):
    """pgbench with one client and `synchronous_commit = on`, the typical step and B1 in
    alternation: the WAL flushes per step and how long each took (pg_stat_wal, with
    track_wal_io_timing on for the run), from the run with the median flush time."""
    with connect() as conn:
        conn.execute("ALTER DATABASE " + conn.info.dbname + " SET track_wal_io_timing = on")
    bench.set_sync(True)
    seen = {}

    def run(kind):
        with connect() as conn:
            conn.execute("SELECT pg_catalog.pg_stat_reset_shared('wal')")
            commits = conn.execute(COMMITS).fetchone()[0]
        bench.pgbench(kind, 1)
        # pgbench's backend reports its statistics as it exits, after pgbench has returned.
        time.sleep(0.5)
        with connect() as conn:
            syncs, sync_ms, records, wal_bytes = conn.execute(WAL).fetchone()
            steps = conn.execute(COMMITS).fetchone()[0] - commits
        seen.setdefault(kind, []).append({
            "syncs_per_step": syncs / steps, "us_per_sync": sync_ms * 1e3 / max(syncs, 1),
            "records_per_step": records / steps, "bytes_per_step": float(wal_bytes) / steps})
        return sync_ms * 1e3 / max(syncs, 1)

    try:
        bench.alternate({k: (lambda k=k: run(k)) for k in ("render_vars", "baseline_b_precomputed")})
    finally:
        with connect() as conn:
            conn.execute("ALTER DATABASE " + conn.info.dbname + " RESET track_wal_io_timing")
        bench.set_sync(False)
    return {k: sorted(v, key=lambda r: r["us_per_sync"])[len(v) // 2] for k, v in seen.items()}


def hardware_counters():
    """Whether perf can count cycles here (a virtual machine may expose no counters)."""
    try:
        out = subprocess.run(["perf", "stat", "-x,", "-e", "cycles", "true"], capture_output=True, text=True)
    except OSError:
        return False
    return out.returncode == 0 and "<not supported>" not in out.stderr and "<not counted>" not in out.stderr


def step_us(typical, sync, kind):
    """Time per step at one client (the throughput table), µs."""
    return 1e6 / typical[f"sync_{sync}_c1"][kind]["median"]


def section(w, p, typical, waits=None, ins=None):
    """The report's section on waits between and inside steps (docs/benchmarks.md)."""
    k = p["kinds"]
    rv, sv, b1 = k["render_vars"], k["set_vars"], k["baseline_b_precomputed"]
    pause = p["pause_us"]
    cpu = lambda r, c: r[c]["cpu_us"]
    added = lambda r, c: cpu(r, c) - cpu(r, "back_to_back")
    gap = lambda c: cpu(rv, c) - cpu(b1, c)
    w("## Between two steps: the backend waits")
    w("")
    w("The in-server times above are of calls made back to back. Under a client the backend waits "
      "between two steps, for the client's next statement, and with `synchronous_commit = on` also "
      "inside each step, for its commit's flush. The same calls in the server: back to back; after "
      f"sleeping {pause} µs before each call (`pg_sleep`, as the backend waits for its client); after "
      f"spending {pause} µs busy on the CPU instead (the same time passes, the backend does not sleep); "
      "and committing with `synchronous_commit = on` (each call's COMMIT waits for its flush). The "
      "backend's CPU time per call (/proc/<pid>/schedstat, "
      f"{p['calls']} calls per run, the median run), less that of the loop with its COMMIT and the "
      "pause alone, measured the same way:")
    w("")
    columns = [c for c in ("back_to_back", "after_pause", "after_busy_wait", "sync_on") if c in rv]
    heads = {"back_to_back": "back to back", "after_pause": f"after sleeping {pause} µs",
             "after_busy_wait": f"after {pause} µs busy on the CPU", "sync_on": "`synchronous_commit = on`"}
    w("| CPU µs per call | " + " | ".join(heads[c] for c in columns) + " |")
    w("|---" * (len(columns) + 1) + "|")
    for name, r in (("`render_vars`", rv), ("`set_vars` of its five values", sv), ("B1", b1)):
        w(f"| {name} | " + " | ".join(f"{r[c]['cpu_us']:.1f} ({r[c]['min']:.1f}–{r[c]['max']:.1f})"
                                     for c in columns) + " |")
    w("| `render_vars` − B1 | " + " | ".join(f"{gap(c):.1f}" for c in columns) + " |")
    core = p["core"]
    w("| the core alone, outside the database (parsing, planning, evaluating) | "
      + " | ".join(f"{core[c]['median']:.1f}" if c in core else "" for c in columns) + " |")
    w("")
    w(f"Sleeping before the call adds {added(rv, 'after_pause'):.1f} µs of CPU to `render_vars`, "
      f"{added(sv, 'after_pause'):.1f} to `set_vars` and {added(b1, 'after_pause'):.1f} to B1; the core's "
      f"template work alone, outside the database, {core['after_pause']['median'] - core['back_to_back']['median']:.1f}. "
      + busy_wait(rv, sv, b1)
      + f"Waiting for the flush inside the call adds {added(rv, 'sync_on'):.1f}, {added(sv, 'sync_on'):.1f} "
      f"and {added(b1, 'sync_on'):.1f} (with the flush's own system call, which all three make). "
      + same_work(p, ins)
      + ("This run cannot say which processor state the call loses while its backend sleeps: the "
         "machine exposes no hardware counters (`perf stat -e cycles` is not supported)."
         if not p.get("hardware_counters") else ""))
    w("")
    if typical and waits and "b1_arguments_only" in waits["kinds"]:
        one_client(w, p, typical, waits)


def busy_wait(rv, sv, b1):
    """The sentence on the busy wait: what the same time costs when the backend does not sleep."""
    if "after_busy_wait" not in rv:
        return ""
    added = lambda r, c: r[c]["cpu_us"] - r["back_to_back"]["cpu_us"]
    text = (f"The same time spent busy on the CPU instead adds {added(rv, 'after_busy_wait'):.1f}, "
            f"{added(sv, 'after_busy_wait'):.1f} and {added(b1, 'after_busy_wait'):.1f}")
    if added(rv, "after_busy_wait") < added(rv, "after_pause") / 2:
        return text + (": it is the sleep that costs, not the time passing (in which the WAL writer "
                       "flushes and the other processes run just the same). ")
    return text + ". "


def same_work(p, ins):
    """The sentence on the work after a pause: the same instructions, counted by callgrind."""
    rv, b1 = p["kinds"]["render_vars"], p["kinds"]["baseline_b_precomputed"]
    faults = (f"Minor page faults are {rv['back_to_back']['minor_faults']:.2f} and "
              f"{rv['after_pause']['minor_faults']:.2f} per call of `render_vars` back to back and after a "
              "pause; sleeping adds one voluntary context switch per call, the sleep's own. ")
    counted = (ins or {}).get("paused", {}).get("per_call", {})
    back, slept = counted.get("0", {}), counted.get(str(p["pause_us"]), {})
    kinds = ("render_vars", "baseline_b_precomputed", "commit")
    if not all(k in back and k in slept for k in kinds):
        return faults
    work = lambda counts, kind: counts[kind] - counts["commit"]
    return (f"The work is the same: callgrind counts {work(slept, 'render_vars'):,.0f} instructions per call "
            f"of `render_vars` after a pause against {work(back, 'render_vars'):,.0f} back to back (the loop "
            f"and its pause alone taken out), and {work(slept, 'baseline_b_precomputed'):,.0f} against "
            f"{work(back, 'baseline_b_precomputed'):,.0f} for B1 (a single-user backend, as in the table "
            "of instructions above). " + faults
            + "The same instructions run slower after the backend has slept, and the extension's call "
            "loses more of its speed than B1's statement or the core alone. ")


def one_client(w, p, typical, waits):
    """The gap to B1 at one client, split into what this run measured."""
    k = p["kinds"]
    rv, b1 = k["render_vars"], k["baseline_b_precomputed"]
    cpu = lambda r, c: r[c]["cpu_us"]
    w_kinds = waits["kinds"]
    receiving = w_kinds["arguments_only"]["server_cpu_us"] - w_kinds["b1_arguments_only"]["server_cpu_us"]
    back = cpu(rv, "back_to_back") - cpu(b1, "back_to_back")
    paused = (cpu(rv, "after_pause") - cpu(rv, "back_to_back")) - (cpu(b1, "after_pause") - cpu(b1, "back_to_back"))
    flushing = cpu(rv, "sync_on") - cpu(b1, "sync_on")
    off = step_us(typical, "off", "render_vars") - step_us(typical, "off", "baseline_b_precomputed")
    on = step_us(typical, "on", "render_vars") - step_us(typical, "on", "baseline_b_precomputed")
    f = p.get("flushes")
    waited = f["render_vars"]["us_per_sync"] - f["baseline_b_precomputed"]["us_per_sync"] if f else 0
    w(f"**One client, split.** A pgbench client's backend waits before every step. With "
      f"`synchronous_commit = off` a step of `render_vars` takes {off:.1f} µs longer than one of B1 (the "
      f"throughput table, 1 client): the call's work back to back accounts for {back:.1f} of them, what the "
      f"wait before the call costs it beyond B1 for {paused:.1f}, receiving its larger arguments for "
      f"{receiving:.1f} (the section on 8 clients); " + left(off, back + paused + receiving)
      + f" With `synchronous_commit = on` the step takes {on:.1f} µs longer than B1's: the call "
      f"committing with its flush accounts for {flushing:.1f}, the wait before it for {paused:.1f}, "
      f"receiving the arguments for {receiving:.1f}"
      + (f", and the flush itself, which the CPU times above do not include, for {waited:.1f}: each step "
         f"flushes the WAL {f['render_vars']['syncs_per_step']:.2f} and {f['baseline_b_precomputed']['syncs_per_step']:.2f} "
         f"times, and a flush took {f['render_vars']['us_per_sync']:.1f} µs in `render_vars`'s run against "
         f"{f['baseline_b_precomputed']['us_per_sync']:.1f} in B1's (pg_stat_wal with track_wal_io_timing, "
         f"pgbench with one client, the run with the median flush time of each, taken in alternation; "
         f"{f['render_vars']['records_per_step']:.1f} and {f['baseline_b_precomputed']['records_per_step']:.1f} WAL "
         f"records per step, {f['render_vars']['bytes_per_step']:.0f} and {f['baseline_b_precomputed']['bytes_per_step']:.0f} bytes)"
         if f else "")
      + "; " + left(on, flushing + paused + receiving + waited))
    w("")


def left(gap, parts):
    """What of `gap` the measured `parts` leave, or how far they exceed it (each part is measured
    in runs of its own, so that their sum can pass the gap)."""
    if gap >= parts:
        return f"{gap - parts:.1f} µs are left, which this run does not split further."
    return (f"together they come to {parts:.1f} µs, {parts - gap:.1f} more than the gap: each is "
            "measured in runs of its own.")
