"""Where eight clients' time goes: the typical step, baseline B1, and a statement that only
receives the step's arguments (`arguments_only`), under pgbench with 8 clients
(`synchronous_commit = off`), with the machine's CPU time split between the server and the
clients, and what the server's backends were doing, sampled from `pg_stat_activity` (and
ungranted locks from `pg_locks`) every 10 ms while pgbench runs. Run by bench/run.py; measures,
never asserts.

CPU time: the machine's busy time (/proc/stat) over the run, minus pgbench's own (the run's
child-process time) and this process's (the sampler): what is left is the server's, backends
and background processes alike, with the sampler's queries (a few per cent at most)."""

import collections
import os
import resource
import threading
import time

import psycopg

SAMPLE = """SELECT coalesce(wait_event_type || ': ' || wait_event,
                         CASE WHEN state = 'active' THEN 'on CPU' ELSE coalesce(state, 'unknown') END)
            FROM pg_catalog.pg_stat_activity
            WHERE datname = %s AND pid <> pg_catalog.pg_backend_pid()
              AND backend_type = 'client backend'"""
UNGRANTED = "SELECT locktype FROM pg_catalog.pg_locks WHERE NOT granted"


def busy_seconds():
    """The machine's CPU time spent on anything but idling, since boot."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


class Sampler(threading.Thread):
    def __init__(self, dsn, db):
        super().__init__(daemon=True)
        self.dsn, self.db = dsn, db
        self.states = collections.Counter()
        self.locks = collections.Counter()
        self.samples = 0
        self.stop = threading.Event()

    def run(self):
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                for (state,) in conn.execute(SAMPLE, (self.db,)).fetchall():
                    self.states[state] += 1
                for (locktype,) in conn.execute(UNGRANTED).fetchall():
                    self.locks[locktype] += 1
                self.samples += 1
                time.sleep(0.01)


def profile(bench, script, clients, dsn, db):
    """One pgbench run of `script` with `clients` clients, profiled."""
    sampler = Sampler(dsn, db)
    sampler.start()
    busy, children, me = busy_seconds(), cpu_seconds(resource.RUSAGE_CHILDREN), cpu_seconds(resource.RUSAGE_SELF)
    start = time.perf_counter()
    tps, _ = bench.pgbench(script, clients)
    elapsed = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    busy = busy_seconds() - busy
    client = cpu_seconds(resource.RUSAGE_CHILDREN) - children
    sampling = cpu_seconds(resource.RUSAGE_SELF) - me
    steps = tps * elapsed
    backends = sum(sampler.states.values()) or 1
    return {
        "tps": tps,
        "busy_cores": busy / elapsed,
        "server_cpu_us": max(busy - client - sampling, 0) / steps * 1e6,
        "client_cpu_us": client / steps * 1e6,
        "states": {k: v / backends for k, v in sampler.states.most_common()},
        "ungranted_locks_per_sample": {k: v / max(sampler.samples, 1) for k, v in sampler.locks.most_common()},
    }


def measure(bench, dsn, db, clients=8):
    """The typical step and B1 at `clients` clients, sync off, in alternation; per kind the
    run with the median throughput."""
    bench.set_sync(False)
    runs = {k: [] for k in ("render_vars", "baseline_b_precomputed", "arguments_only", "b1_arguments_only")}
    for r in range(bench.args.runs):
        keys = list(runs)[r % len(runs):] + list(runs)[:r % len(runs)]
        for k in keys:
            runs[k].append(profile(bench, k, clients, dsn, db))
    out = {}
    for k, profiles in runs.items():
        profiles.sort(key=lambda p: p["tps"])
        out[k] = profiles[len(profiles) // 2]
    return {"clients": clients, "kinds": out}


def lock_share(states):
    return sum(v for k, v in states.items() if k.startswith(("Lock:", "LWLock:")))


def section(w, waits, parts=None):
    """The report's section on eight clients (docs/benchmarks.md)."""
    k = waits["kinds"]
    rv, b1, args = k["render_vars"], k["baseline_b_precomputed"], k["arguments_only"]
    # Results of a run before B1's arguments were profiled lack them.
    b1_args = k.get("b1_arguments_only")
    w(f"## {waits['clients']} clients: where the time goes")
    w("")
    w(f"pgbench with {waits['clients']} clients and `synchronous_commit = off` (the run with the median "
      "throughput of each, taken in alternation): the CPU time each step took on the server and in "
      "pgbench (the machine's busy time from /proc/stat, less pgbench's own), and what the server's "
      "backends were doing, `pg_stat_activity` sampled every 10 ms (shares of all samples). "
      "*Arguments only* is a statement that receives the typical step's arguments (the 1 KB result, "
      "the block and the context, as `render_vars` gets them) and does nothing with them"
      + ("; *B1's arguments only*, the same for B1's one argument (the five values)." if b1_args else "."))
    w("")
    w("| | steps/s | busy cores | server CPU µs per step | pgbench CPU µs per step | on CPU | waiting for the client | idle | lock or LWLock waits |")
    w("|---|---|---|---|---|---|---|---|---|")
    rows = [("`render_vars`", rv), ("B1", b1), ("arguments only", args)]
    if b1_args:
        rows.append(("B1's arguments only", b1_args))
    for name, p in rows:
        s = p["states"]
        w(f"| {name} | {p['tps']:,.0f} | {p['busy_cores']:.2f} | {p['server_cpu_us']:.0f} | "
          f"{p['client_cpu_us']:.0f} | {s.get('on CPU', 0):.0%} | {s.get('Client: ClientRead', 0):.0%} | "
          f"{s.get('idle', 0):.0%} | {lock_share(s):.1%} |")
    w("")
    whole = (rv["server_cpu_us"] + rv["client_cpu_us"]) / (b1["server_cpu_us"] + b1["client_cpu_us"])
    w(f"Both keep the machine's cores busy ({rv['busy_cores']:.2f} and {b1['busy_cores']:.2f}), so "
      f"throughput is CPU time per step: `render_vars` takes {whole:.2f}× B1's (server and client "
      f"together) and reaches {rv['tps'] / b1['tps']:.2f}× its throughput. Nothing else serialises "
      f"the clients: lock and LWLock waits are {lock_share(rv['states']):.1%} of the samples "
      f"({lock_share(b1['states']):.1%} for B1), the rest is backends on the CPU or waiting for "
      "their client, which shares the same cores. A statement that only receives the step's "
      f"arguments takes {args['server_cpu_us']:.0f} µs of server CPU per call (the protocol, and "
      "jsonb_in parsing the result, the block and the context): any way of passing the step's "
      "result to the database pays it, B1 receives only the five values computed beforehand. The "
      "rest of the step's server CPU is the call's own work, whose instructions the table above "
      "splits.")
    w("")
    if b1_args:
        gap = rv["server_cpu_us"] - b1["server_cpu_us"]
        receiving = args["server_cpu_us"] - b1_args["server_cpu_us"]
        w(f"**The {gap:.0f} µs of server CPU per step that `render_vars` takes beyond B1, split.** Receiving "
          f"the arguments accounts for {receiving:.0f} of them ({args['server_cpu_us']:.0f} µs for the "
          f"step's result, block and context against {b1_args['server_cpu_us']:.0f} µs for B1's five "
          "values: PostgreSQL's protocol and `jsonb_in`, before the extension is called); the call's "
          f"own work beyond B1's statement, the other {gap - receiving:.0f}" + alone(parts, gap - receiving))
        w("")


def alone(parts, work):
    """How the call's own work beyond B1 at 8 clients compares with one backend's, timed inside the
    server (*Where the time of a call goes*): the end of the sentence that gives it."""
    if not parts or "render_vars" not in parts or "baseline_b_precomputed" not in parts:
        return "."
    one = parts["render_vars"]["median"] - parts["baseline_b_precomputed"]["median"]
    return (f". One backend alone, timed inside the server (*Where the time of a call goes*, below), "
            f"the call takes {one:.1f} µs more than B1's statement; this run does not split the other "
            f"{work - one:.0f} µs further (here 8 backends share the 2 cores, and the call returns a "
            "response, which B1's `INSERT` does not).")
