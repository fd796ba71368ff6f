"""Writes docs/benchmarks.md and the plot from the results of bench/run.py."""

import datetime
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import report_profile  # noqa: E402
import pauses  # noqa: E402
import waits  # noqa: E402


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def cell(s, digits=0):
    """A measurement as 'median (min-max)'."""
    return f"{fmt(s['median'], digits)} ({fmt(s['min'], digits)}–{fmt(s['max'], digits)})"


def verdict(ok):
    return "**met**" if ok else "**not met**"


def instructions_table(w, ins, p):
    """The parts of the typical step in instructions per call, beside their times."""
    n = ins["per_call"]
    lo, hi = ins["calls"]
    w("### Instructions per call (callgrind)")
    w("")
    w(f"The same calls counted in instructions by valgrind's callgrind ({ins['valgrind']}), in a "
      f"single-user backend (`postgres --single`, {ins['postgresql']}) on the benchmark's cluster, "
      f"stopped meanwhile, before the timed runs: `bench_typical` run with {lo} and then with "
      f"{hi} calls, each run after {ins['warmup']} calls that warm the backend up and on a freshly "
      f"vacuumed table; the difference of the two totals divided by {hi - lo}, so that the "
      "backend's start-up and shutdown cancel out. Unlike the times, the counts do not move with "
      "the machine's load (repeated counts agree within a few tenths of a percent), so they show "
      "a change of a few percent that the spread of the times hides; they count the backend's own instructions only, not the "
      "kernel's (the system calls that write WAL) nor a WAL writer's (a single-user backend has none).")
    w("")
    m = ins.get("l1_misses_per_call", {})
    if m:
        w("| | instructions per call | µs per call (above) | L1 misses per call: instruction, data |")
        w("|---|---|---|---|")
    else:
        w("| | instructions per call | µs per call (above) |")
        w("|---|---|---|")
    names = (("render_vars", "the typical step, `render_vars`"),
             ("render_vars_event", "the same with an `event_id` (its first delivery)"),
             ("render_vars_no_event", "the same call passing no id (`event_id => NULL`)"),
             ("render_vars_declared", "the same with a JSON Schema declared for each of its five variables"),
             ("render_vars_2_sensitive", "the same with two of its variables declared sensitive (encrypted at rest)"),
             ("render_vars_10_other_watches", "the same with 10 watches of another execution (none matches)"),
             ("render_vars_10_watches", "the same with 10 watches of every execution (50 outbox rows)"),
             ("apply_set", "the same block as a `set:` block, `apply_set`"),
             ("set_vars", "its write alone, `set_vars` of the five values"),
             ("baseline_b_precomputed", "the same write as one plain statement (B1)"),
             ("empty_block", "a `render_vars` call with an empty block"),
             ("commit", "`COMMIT` alone"))
    for key, name in names:
        if key in n and key in p:  # results.json of a build before variable watch lacks the watch kinds
            miss = f" {fmt(m[key]['instruction'])}, {fmt(m[key]['data'])} |" if key in m else ""
            w(f"| {name} | {fmt(n[key])} | {fmt(p[key]['median'], 1)} |{miss}")
    b1 = n["baseline_b_precomputed"]
    for key, name in (("render_vars", "`render_vars` / B1"), ("set_vars", "`set_vars` / B1")):
        w(f"| {name} | {n[key] / b1:.2f}× | {p[key]['median'] / p['baseline_b_precomputed']['median']:.2f}× |")
    rv = n["render_vars"]
    w(f"| `render_vars` with an `event_id` / without | {n['render_vars_event'] / rv:.2f}× | "
      f"{p['render_vars_event']['median'] / p['render_vars']['median']:.2f}× |")
    if "render_vars_no_event" in n and "render_vars_no_event" in p:
        w(f"| `render_vars` with an `event_id` / the same call passing none | "
          f"{n['render_vars_event'] / n['render_vars_no_event']:.2f}× | "
          f"{p['render_vars_event']['median'] / p['render_vars_no_event']['median']:.2f}× |")
    w("")
    if m:
        per_ns = {k: n[k] / (p[k]["median"] * 1000) for k in ("render_vars", "set_vars", "baseline_b_precomputed")}
        w("Instructions are not the whole time: in the timed runs B1 ran "
          f"{per_ns['baseline_b_precomputed']:.1f} instructions per ns, `set_vars` {per_ns['set_vars']:.1f} "
          f"and `render_vars` {per_ns['render_vars']:.1f}. Callgrind's simulation of this machine's "
          "first-level caches (the last column) counts more misses in the extension's calls, "
          "which run more code (PostgreSQL's, their own, the template engine's) through the same "
          "caches; their system calls are as few as B1's (`strace -c` of a backend: the latch "
          "set at commit, and for a block's templates one `mincore` of their stack).")
        w("")


def write(results, out_path, plot_path):
    env = results["environment"]
    t = results["typical"]
    lines = []
    w = lines.append
    w("# Benchmarks")
    w("")
    w("For operators sizing a NoETL database and for contributors changing a hot path. After "
      "reading it you know what a step costs with the extension and without it, and where the "
      "time of a call goes; [operations.md](operations.md#performance) says how to run it.")
    w("")
    w("What `noetl_vars` costs and what it saves, measured by `./scripts/bench.sh` "
      f"on {datetime.date.today().isoformat()} (a run took {results['seconds'] / 60:.0f} minutes). "
      "Every number is the median of repeated runs, with the spread (min–max) in parentheses; "
      "ratios compare medians measured in the same run, and measurements that are compared were "
      "taken in alternation (one run of each in rotating order, repeated), so that a slow spell of "
      "the machine lands on all of them alike. Nothing here is asserted by a test.")
    w("")
    w(f"![benchmarks]({os.path.relpath(plot_path, os.path.dirname(os.path.abspath(out_path)))})")
    w("")
    w("## Machine and settings")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| CPU | {env['cpu']}, {env['cores']} cores |")
    w(f"| memory | {env['memory']} |")
    w(f"| kernel | {env['kernel']} |")
    w(f"| PostgreSQL | {env['postgresql']} (throwaway cluster, `fsync = {env['settings'].get('fsync')}`, `shared_buffers = {env['settings'].get('shared_buffers')}`) |")
    w(f"| noetl_vars | {env['noetl_vars']} (release build), `template_fuel = {env['settings'].get('noetl_vars.template_fuel')}` |")
    w(f"| baseline A | Python {env['python']}, Jinja2 {env['jinja2']}, psycopg {env['psycopg']} |")
    w(f"| repetitions | {env['runs']} runs per measurement; pgbench runs of {env['duration']} s (`-M prepared`); "
      f"{env['python_steps']} steps per Python client; {env['loop_calls']} calls per in-server measurement |")
    w("")
    w("## The typical step")
    w("")
    w("A 5-variable block over a ~1 KB result: a path, a filter, a conditional, an increment and a "
      "text template (`bench/workloads.py`). Throughput in steps per second:")
    w("")
    w("- **noetl_vars**: `SELECT noetl.render_vars(…)`, one call per step (pgbench custom script);")
    w("- **A, server-side path**: read the variables, render with Jinja2 in Python (compiled templates "
      "cached), one autocommitted `INSERT … ON CONFLICT` per variable over psycopg (`bench/baseline_a.py`);")
    w("- **B1, floor**: the step's values precomputed, written by one `INSERT … SELECT … FROM jsonb_each(…) ON CONFLICT`;")
    w("- **B2, floor**: the same values extracted from the result with native `->` operators and the "
      "increment read from the table, in one plain statement.")
    w("")
    w("| synchronous_commit | clients | noetl_vars | A | B1 | B2 | noetl_vars / A |")
    w("|---|---|---|---|---|---|---|")
    for sync in ("on", "off"):
        for c in (1, 2, 8):
            row = t[f"sync_{sync}_c{c}"]
            ratio = row["render_vars"]["median"] / row["baseline_a"]["median"]
            w(f"| {sync} | {c} | {cell(row['render_vars'])} | {cell(row['baseline_a'])} | "
              f"{cell(row['baseline_b_precomputed'])} | {cell(row['baseline_b_native'])} | {ratio:.1f}× |")
    py = t["python_client_c1_sync_off"]
    w("")
    w(f"Driven by the same Python client as baseline A (one connection, `synchronous_commit = off`): "
      f"noetl_vars {cell(py['render_vars'])} steps/s against A {cell(py['baseline_a'])}, "
      f"{py['render_vars']['median'] / py['baseline_a']['median']:.1f}×.")
    w("")

    if "waits" in results:
        waits.section(w, results["waits"], results.get("parts"))
    if "pauses" in results:
        pauses.section(w, results["pauses"], t, results.get("waits"), results.get("instructions"))

    s = results["scaling"]
    w("## Scaling")
    w("")
    w("Per-call time in µs, measured inside the server (a procedure calling the function and "
      "committing after each call, `synchronous_commit = off`), so that only the work itself is timed.")
    w("")
    w("A block reading three fields of a result of growing size. *Text round trip* is what merely "
      "converting the whole result to text costs, the first half of a serde-based conversion:")
    w("")
    w("| result | noetl_vars | B2 (native `->`) | text round trip alone |")
    w("|---|---|---|---|")
    for label, row in s["result_size"].items():
        w(f"| {label} | {cell(row['render_vars'], 1)} | {cell(row['baseline_b_native'], 1)} | {cell(row['text_round_trip'], 1)} |")
    w("")
    w("A read-modify-write block (`counter: {{ vars.counter | default(0) + 1 }}`, plus one more "
      "variable read) on an execution holding more and more variables:")
    w("")
    w("| variables | noetl_vars | B2 (plain SQL) |")
    w("|---|---|---|")
    for n, row in s["variables"].items():
        w(f"| {int(n):,} | {cell(row['render_vars'], 1)} | {cell(row['baseline_b_native'], 1)} |")
    big = results["big_table"]
    w("")
    w(f"The typical step on an execution with 100 variables, in a table of 100 rows and then of "
      f"{big['rows']:,} rows across 10,000 executions: {cell(big['small_table'], 1)} µs and "
      f"{cell(big['million_rows'], 1)} µs per call.")
    w("")

    st = results["store"]
    w("## The store")
    w("")
    w("One client, calls per second (pgbench, `-M prepared`). `get_var` and `vars_get` are tracked "
      "reads: each one is an `UPDATE` and a commit, where the primary-key `SELECT` commits nothing.")
    w("")
    w("| synchronous_commit | get_var | vars_get | primary-key SELECT | set_vars, 10 variables | B1, 10 variables |")
    w("|---|---|---|---|---|---|")
    for sync in ("on", "off"):
        row = st[f"sync_{sync}"]
        w(f"| {sync} | {cell(row['get_var'])} | {cell(row['vars_get'])} | {cell(row['pk_select'])} | "
          f"{cell(row['set_vars_10'])} | {cell(row['baseline_b_set_10'])} |")
    w("")
    it = results["iterations"]
    w("## Iterations")
    w("")
    w(f"`render_iteration` for a 1,000-item iteration (each item its own transaction, all counting the "
      f"same `{{step}}_count`): {cell(it['c1'])} items/s sequentially, {cell(it['c8'])} items/s with 8 "
      "concurrent workers (which serialize on the count, by design: every one of the 1,000 is counted).")
    w("")
    h = results["history"]
    w("## History")
    w("")
    w(f"The typical step with `noetl_vars.track_history` off and on (one client, "
      f"`synchronous_commit = off`): {cell(h['off'])} and {cell(h['on'])} steps/s, a cost of "
      f"{(1 - h['on']['median'] / h['off']['median']) * 100:.0f}%.")
    w("")

    p = results.get("parts")
    if p:
        w("## Where the time of a call goes")
        w("")
        w("The typical step beside its parts, timed inside the server (a procedure calling each "
          f"{env['loop_calls']} times, a `COMMIT` after every call, `synchronous_commit = off`), "
          "in µs per call:")
        w("")
        w("| | µs per call |")
        w("|---|---|")
        w(f"| the typical step, `render_vars` | {cell(p['render_vars'], 1)} |")
        w(f"| its write alone: the five values it produces, stored by `set_vars` | {cell(p['set_vars'], 1)} |")
        w(f"| the same write as one plain statement (B1) | {cell(p['baseline_b_precomputed'], 1)} |")
        w(f"| a `render_vars` call with an empty block | {cell(p['empty_block'], 1)} |")
        w(f"| `COMMIT` alone | {cell(p['commit'], 1)} |")
        w(f"| the core alone, outside the database: parsing, planning and evaluating the block "
          f"(`core/examples/typical_step.rs`) | {cell(p['core'], 1)} |")
        w("")
        total, write, core = p["render_vars"]["median"], p["set_vars"]["median"], p["core"]["median"]
        w(f"Writing the five variables is {write / total * 100:.0f}% of the step and template work "
          f"{core / total * 100:.0f}%; the remaining {max(total - write - core, 0):.0f} µs are the rest "
          "of the call, which this table does not split further: reading the one variable the block "
          "uses (`vars.attempts`), locking the names it reads and writes, and taking the result in "
          "and the output out as JSONB. Most of the write is PostgreSQL's own per-statement work, "
          "which baseline B1 pays as well (executor start-up, the `ON CONFLICT` probe, the check "
          "constraint, WAL); `set_vars` adds to it the checks of every name, the locks and its "
          "response.")
        w("")
        w("Earlier profiles (`perf record` of a backend under pgbench) led to the changes that made "
          "0.2.0's numbers: statements planned once per backend (generic plans) instead of at every "
          "call; one primary-key probe per variable read; one upsert statement for the whole block; "
          "the evaluation stack mapped once per backend rather than at every call. For 0.4.0 a "
          "callgrind profile of 0.3.0 (PostgreSQL 18.6, the same calls as the table below, "
          "attributed by call tree) found two costs that every write paid, B1 included, and removed "
          "them: the update trigger's long `WHEN` condition, which PostgreSQL parses again "
          "(`stringToNode`) in every statement that fires the trigger, capture on or off, about "
          "121,000 instructions of B1's 396,000 (the condition is now one call, the test moved into "
          "the trigger function); and a sequential scan that the generic plan of the locked read "
          "had chosen on the small table, 110,000 instructions for reading one variable where the "
          "index takes 46,000 (the extension's statements are now planned as index scans, "
          "`src/storage/planner.rs`). For 0.6.0 callgrind profiles of the typical step against "
          "0.5.0 (PostgreSQL 15.20) found the lifetime columns NoETL declares to be most of what "
          "the release added: PostgreSQL parses every CHECK constraint again in every statement "
          "that writes the table, and NoETL's CHECK on `scope` costs about 47,000 instructions a "
          "write (the table's own type check about as much; both are NoETL's DDL and stay), the "
          "partial index on `expires_at` about 5,000, the columns about 11,000. What the "
          "extension did about its own share: the variable a block reads (locked, when it also "
          "writes it) and an event id's record are read and stored through the table and index "
          "access methods instead of statements, which cost more to start and end than the row "
          "itself (`src/storage/direct/`, about 28,000 fewer for the locked read, 50,000 for an "
          "event); a write without lifetimes uses an upsert that works none out (9,000); a "
          "template's shortened source is only built for an error (8,000). A later profile of the "
          "typical step found most of those CHECK constraints' cost in reading them back: their "
          "value lists are stored as array constants, which `stringToNode` reads byte by byte, "
          "about 66,000 instructions per writing statement, and 17,000 more to plan them. The "
          "extension's own writing statements now get them prepared from what each backend read "
          "once (an executor-start hook, `src/backend/check_constraints.rs`; the constraints are still the table's of the moment, "
          "compared by their text): the typical step went from "
          "540,233 to 465,996 instructions and `set_vars` of its values from 436,961 to 361,473, below B1, which pays the reading as every plain statement does. Relation look-ups by name are now kept per backend until "
          "invalidated (about 1,400 instructions each), an event's block md5 is remembered for the next call with the same block, and a `set:` block's response reuses the values as written "
          "instead of building them again. An event's claim and record share one open of its table, one slot and the column numbers (kept "
          "per backend until invalidated), and the direct paths make several calls into PostgreSQL under one error boundary instead of "
          "one `sigsetjmp` each (about 120 instructions a call, `src/backend/ffi.rs`): the event's overhead went from 11.3% to between 10% and 11% (*What an event id adds, measured*, below, splits it). "
          "Then: a block's members are listed with their values in one pass; templates' look-ups into the step's result read the jsonb "
          "container in place (`src/storage/jsonb/container.rs`) instead of one call into PostgreSQL, with its error boundary and a "
          "`palloc`, per look-up; the upserts select from `jsonb_object_keys` instead of `jsonb_each`, whose result type the executor "
          "reads back from `pg_proc` at every execution (about 6,500 instructions a write); and a block sent again unchanged, as NoETL "
          "sends a step's block for every execution, is parsed once per backend, its shape kept by its bytes "
          "(`core/src/block/cache.rs`, about 9,500 instructions of the typical step and 17,000 of `apply_set`, which parsed its "
          "`$ttl` apart). Each of these shortened the step by a few percent; what is left of the extension's own work is spread "
          "over many small parts (the table below), none of them a cause of the gap to B1 on its own.")
        w("")
        ins = results.get("instructions")
        if ins:
            instructions_table(w, ins, p)
            report_profile.section(w, results)

    # Targets.
    w("## Targets")
    w("")
    w("| target | measured | |")
    w("|---|---|---|")
    rows = [(sync, c) for sync in ("on", "off") for c in (1, 2, 8)]
    worst_a = min(t[f"sync_{sync}_c{c}"]["render_vars"]["median"] / t[f"sync_{sync}_c{c}"]["baseline_a"]["median"]
                  for sync, c in rows)
    w(f"| typical step: ≥ 5× the throughput of baseline A, in every row of the throughput table | "
      f"{worst_a:.1f}× at worst | {verdict(worst_a >= 5)} |")
    # B1's throughput over the step's is the step's time per call over B1's.
    to_b1 = {(sync, c): t[f"sync_{sync}_c{c}"]["baseline_b_precomputed"]["median"] / t[f"sync_{sync}_c{c}"]["render_vars"]["median"]
             for sync, c in rows}
    sync, c = max(to_b1, key=to_b1.get)
    w(f"| typical step: time per step within 1.25× of B1's, in every row of the throughput table "
      f"(1, 2 and 8 clients, sync on and off) | {min(to_b1.values()):.2f}× to {to_b1[(sync, c)]:.2f}×, the worst "
      f"at sync {sync} with {c} client{'s' if c > 1 else ''} | {verdict(to_b1[(sync, c)] <= 1.25)} |")
    p = results.get("parts")
    if p:
        r = p["set_vars"]["median"] / p["baseline_b_precomputed"]["median"]
        w(f"| `set_vars` of the typical step's five values within 1.15× of B1, time per call in the server | "
          f"{r:.2f}× | {verdict(r <= 1.15)} |")
    ins = results.get("instructions")
    if ins:
        r = ins["per_call"]["set_vars"] / ins["per_call"]["baseline_b_precomputed"]
        w(f"| `set_vars` of the typical step's five values within 1.15× of B1, instructions per call | "
          f"{r:.2f}× | {verdict(r <= 1.15)} |")
    else:
        w("| `set_vars` of the typical step's five values within 1.15× of B1, instructions per call | "
          "not counted in this run | |")
    if ins:
        n = ins["per_call"]
        r = n["render_vars"] / n["baseline_b_precomputed"]
        w(f"| typical step within 1.25× of B1, instructions per call | {r:.2f}× | {verdict(r <= 1.25)} |")
        if "apply_set" in n:
            r = n["apply_set"] / n["render_vars"]
            w(f"| `apply_set` of the same block within 10% of `render_vars`, instructions per call | "
              f"{r:.2f}× | {verdict(r <= 1.10)} |")
        if "render_vars_no_event" in n:
            r = n["render_vars_event"] / n["render_vars_no_event"] - 1
            w(f"| an `event_id` (first delivery) costs at most 10% of the typical step, instructions per call | "
              f"{r:.1%} | {verdict(r <= 0.10)} |")
    worst8 = min(t[f"sync_{sync}_c8"]["render_vars"]["median"] / t[f"sync_{sync}_c8"]["baseline_b_precomputed"]["median"]
                 for sync in ("on", "off"))
    w(f"| throughput at 8 clients ≥ 0.8× B1's (sync on and off) | {worst8:.2f}× at worst | {verdict(worst8 >= 0.8)} |")
    sizes = [row["render_vars"]["median"] for row in s["result_size"].values()]
    r = max(sizes) / min(sizes)
    w(f"| per-call time flat (±25%) from a 1 KB to a 1 MB result | {r:.2f}× from the fastest to the slowest | {verdict(r <= 1.25)} |")
    counts = [row["render_vars"]["median"] for row in s["variables"].values()]
    r = max(counts) / min(counts)
    w(f"| per-call time flat (±25%) from 10 to 10,000 variables | {r:.2f}× from the fastest to the slowest | {verdict(r <= 1.25)} |")
    for sync in ("on", "off"):
        row = st[f"sync_{sync}"]
        r = row["pk_select"]["median"] / row["get_var"]["median"]
        w(f"| tracked `get_var` within 2× of a primary-key SELECT (sync {sync}) | {r:.2f}× | {verdict(r <= 2)} |")
    w("")
    b1_off = max(to_b1[("off", c)] for c in (1, 2, 8))
    if worst_a < 5:
        best_a = max(t[f"sync_{sync}_c{c}"]["render_vars"]["median"] / t[f"sync_{sync}_c{c}"]["baseline_a"]["median"]
                     for sync in ("on", "off") for c in (1, 2, 8))
        w(f"**On the 5× target.** Across the six rows the ratio runs from {worst_a:.2f}× to "
          f"{best_a:.2f}×; one round trip instead of six bounds it near 6×. On this 2-core machine "
          "the clients (pgbench, or baseline A's Python processes) share the CPUs with the server, "
          "so the ratio follows how much CPU each client takes as much as the server's work, and "
          "it moves between runs with the machine's noise (the spreads above).")
        w("")
    if ins and "render_vars_no_event" in ins["per_call"]:
        r = ins["per_call"]["render_vars_event"] / ins["per_call"]["render_vars_no_event"] - 1
        phases = ins.get("phases", {})
        if r > 0.10 and "render_vars_event" in phases and "render_vars_no_event" in phases:
            added = {obj: phases["render_vars_event"]["objects"].get(obj, 0)
                     - phases["render_vars_no_event"]["objects"].get(obj, 0)
                     for obj in ("PostgreSQL", "the extension")}
            total = ins["per_call"]["render_vars_event"] - ins["per_call"]["render_vars_no_event"]
            w(f"**On the event id.** *What an event id adds, measured* (above) splits its cost: "
              f"{added['PostgreSQL'] / total:.0%} of it is PostgreSQL's own code, for the probe of the id and "
              "the row that records it (done through the table and index access methods, without "
              f"statements), and {added['the extension'] / total:.0%} the extension's.")
            w("")
    if b1_off > 1.25:
        w("**On B1.** With commits nearly free (`synchronous_commit = off`) or spread over several "
          "clients, what remains is CPU time per step (the section on 8 clients measures it: the "
          "cores are busy, nothing else serialises the clients), and `render_vars` does a whole step where B1 "
          "only stores values computed beforehand: *The parts of a call* above gives what each part of the "
          "step costs and where its time goes beside B1's; the section on 8 clients splits the server CPU a step "
          "takes beyond B1's between receiving its arguments (PostgreSQL's parsing of the step's result, before "
          "the extension is called) and the call's own work. The locks are what makes the read-modify-write "
          "exact under concurrency (tests/isolation); B1 writes blindly and could lose updates."
          + (" At one client the gap is wider than in the server's back-to-back times because the "
             "backend waits before every step, and with `synchronous_commit = on` inside it too: "
             "*Between two steps* measures what a wait costs each call and splits the one-client rows."
             if "pauses" in results else ""))
        w("")
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    plot(results, plot_path)


def plot(results, path):
    t = results["typical"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))

    ax = axes[0]
    names = ["noetl_vars", "A (server)", "B1 (floor)", "B2 (floor)"]
    keys = ["render_vars", "baseline_a", "baseline_b_precomputed", "baseline_b_native"]
    xs = range(3)
    width = 0.2
    for i, (name, key) in enumerate(zip(names, keys)):
        ys = [t[f"sync_off_c{c}"][key]["median"] for c in (1, 2, 8)]
        ax.bar([x + i * width for x in xs], ys, width, label=name)
    ax.set_xticks([x + 1.5 * width for x in xs], ["1 client", "2 clients", "8 clients"])
    ax.set_ylabel("steps per second")
    ax.set_title("Typical step throughput (synchronous_commit off)")
    ax.legend()

    s = results["scaling"]
    ax = axes[1]
    labels = list(s["result_size"].keys())
    for key, name in (("render_vars", "noetl_vars"), ("baseline_b_native", "B2 (native ->)"), ("text_round_trip", "text round trip alone")):
        ax.plot(labels, [s["result_size"][l][key]["median"] for l in labels], marker="o", label=name)
    ax.set_yscale("log")
    ax.set_ylabel("µs per call (log)")
    ax.set_title("Block reading 3 fields vs result size")
    ax.legend()

    ax = axes[2]
    labels = list(s["variables"].keys())
    for key, name in (("render_vars", "noetl_vars"), ("baseline_b_native", "B2 (plain SQL)")):
        ax.plot([f"{int(l):,}" for l in labels], [s["variables"][l][key]["median"] for l in labels], marker="o", label=name)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("µs per call")
    ax.set_title("Read-modify-write vs variables in the execution")
    ax.legend()

    fig.tight_layout()
    fig.savefig(path, dpi=110)
