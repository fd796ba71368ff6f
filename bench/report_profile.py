"""The report's account of where the instructions and the time of a call go: the typical
step, its write alone and B1, split into parts (callgrind) and by program object (perf);
bench/callprofile.py measures both."""

KINDS = (("render_vars", "`render_vars`"), ("set_vars", "`set_vars`"), ("baseline_b_precomputed", "B1"))
OBJECTS = (("PostgreSQL", "PostgreSQL's code"), ("the extension", "the extension's code"),
           ("C library", "the C library (mostly malloc and free)"),
           ("other", "other (PL/pgSQL, the dynamic loader's thread-local look-ups)"),
           ("kernel", "the kernel (system calls, page faults)"))


def num(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def section(w, results):
    ins = results.get("instructions") or {}
    phases, split = ins.get("phases"), results.get("time_split")
    if not phases:
        return
    w("### The parts of a call")
    w("")
    parts_table(w, ins, phases)
    if split:
        objects_table(w, phases, split)
        gap(w, ins, phases, split)
    event_cost(w, ins, phases)


def parts_table(w, ins, phases):
    w("The inclusive instructions per call of the functions that do each part (from the same "
      "callgrind runs; a part a kind does not have is left blank):")
    w("")
    w("| part | " + " | ".join(name for _, name in KINDS) + " |")
    w("|---|" + "---|" * len(KINDS))
    labels = []
    for kind, _ in KINDS:
        for label, _ in phases.get(kind, {}).get("parts", []):
            if label not in labels:
                labels.append(label)
    values = {kind: dict(map(tuple, phases.get(kind, {}).get("parts", []))) for kind, _ in KINDS}
    for label in labels:
        w(f"| {label} | " + " | ".join(num(values[k].get(label)) if values[k].get(label) else ""
                                        for k, _ in KINDS) + " |")
    w("| the call in all, with PL/pgSQL's loop around it | "
      + " | ".join(num(ins["per_call"].get(k)) for k, _ in KINDS) + " |")
    w("")


def objects_table(w, phases, split):
    w("By program object: each one's own instructions per call (callgrind) and its time per call "
      "in the live cluster (`perf record` of the backend, its samples' share times the measured "
      "time per call; the run with the median time of five, taken in alternation), and so its "
      "instructions per ns:")
    w("")
    w("| object | " + " | ".join(f"{name}: instructions, µs, per ns" for _, name in KINDS) + " |")
    w("|---|" + "---|" * len(KINDS))
    for obj, name in OBJECTS:
        cells = []
        for kind, _ in KINDS:
            n = phases.get(kind, {}).get("objects", {}).get(obj)
            us = split.get(kind, {}).get("us", {}).get(obj)
            rate = f"{n / (us * 1000):.1f}" if n and us else "—"
            cells.append(f"{num(n)}, {num(us, 1)}, {rate}" if obj != "kernel" else f"not counted, {num(us, 1)}, —")
        w(f"| {name} | " + " | ".join(cells) + " |")
    w("| in all (µs per call) | " + " | ".join(num(split.get(k, {}).get("per_call_us"), 1) for k, _ in KINDS) + " |")
    w("")


def gap(w, ins, phases, split):
    rv, b1 = split["render_vars"], split["baseline_b_precomputed"]
    d = {obj: rv["us"].get(obj, 0) - b1["us"].get(obj, 0) for obj, _ in OBJECTS}

    def rate(kind, obj):
        n, us = phases[kind]["objects"].get(obj), split[kind]["us"].get(obj)
        return n / (us * 1000) if n and us else float("nan")
    parts = dict(map(tuple, phases["render_vars"]["parts"]))
    extra = sum(parts.get(label) or 0 for label in (
        "parsing the block", "planning it (order, reads, writes)", "checking access",
        "locking the execution and the names", "reading `vars.attempts`, row-locked",
        "evaluating the five templates"))
    response = (parts.get("writing the five values and building the response") or 0) - (parts.get("of which the upsert statement") or 0)
    b1_statement = dict(map(tuple, phases["baseline_b_precomputed"]["parts"])).get(
        "the statement (PL/pgSQL's `PERFORM` or `INSERT`)") or 0
    w(f"**The gap to B1, measured.** In instructions, `render_vars` does {num(extra)} per call that B1 does not "
      f"(parsing, planning and checking the block, the locks, reading the variable it uses, the five templates) "
      f"and {num(response)} more for its response, while its upsert statement takes "
      f"{num(parts.get('of which the upsert statement'))} where B1's `INSERT` takes {num(b1_statement)} "
      "(its CHECK constraints come prepared, B1 reads them back in every statement); in all "
      f"{ins['per_call']['render_vars'] / ins['per_call']['baseline_b_precomputed']:.2f}× B1's instructions. "
      f"In time it took {rv['per_call_us']:.1f} µs per call against B1's {b1['per_call_us']:.1f} "
      f"({rv['per_call_us'] / b1['per_call_us']:.2f}×): PostgreSQL's code {d['PostgreSQL']:+.1f} µs, "
      f"the extension's {d['the extension']:+.1f}, the C library {d['C library']:+.1f}, the kernel "
      f"{d['kernel']:+.1f}, the rest {d['other']:+.1f}. {causes(rate)} The kernel's share is system calls: the "
      "latch set at commit (B1 too) and one `mincore` of the template stack per call (there was one "
      "after parsing and one after evaluating until the check was made once per call).")
    w("")


def event_cost(w, ins, phases):
    """What an event id's first delivery adds to the call, from the callgrind runs of the two."""
    event, none = phases.get("render_vars_event"), phases.get("render_vars_no_event")
    if not event or not none:
        return
    pe, pn = dict(map(tuple, event["parts"])), dict(map(tuple, none["parts"]))
    total = ins["per_call"]["render_vars_event"] - ins["per_call"]["render_vars_no_event"]
    probe = (pe.get("primary-key probes") or 0) - (pn.get("primary-key probes") or 0)
    entry = (pe.get("index entries inserted") or 0) - (pn.get("index entries inserted") or 0)
    d = {obj: event["objects"].get(obj, 0) - none["objects"].get(obj, 0) for obj, _ in OBJECTS if obj != "kernel"}
    w(f"**What an event id adds, measured.** Its first delivery takes {num(total)} instructions per call more "
      f"than the same call passing none ({total / ins['per_call']['render_vars_no_event']:.1%}): claiming the id "
      f"{num(pe.get('claiming the id'))} (its lock, the open of `noetl.applied_events` and its primary key, and "
      f"the probe that finds no row, {num(probe)}) and recording the result {num(pe.get('recording the result'))} "
      f"(the row, and its primary-key entry, {num(entry)}: a second descent of the same btree, which checks "
      f"the key unique). Neither runs a statement (`src/storage/direct/`). By program object, PostgreSQL's code "
      f"does {d['PostgreSQL']:+,.0f} of them, the C library {d['C library']:+,.0f} (comparing the keys, and "
      f"the allocations behind an index scan), the dynamic loader and PL/pgSQL {d['other']:+,.0f}, the "
      f"extension's own code {d['the extension']:+,.0f} ({d['the extension'] / total:.0%}): the rest is "
      "PostgreSQL's work for one primary-key probe and one row inserted into a table with a btree primary key, "
      "which any record of applied events pays.")
    w("")


def causes(rate):
    """Why the time ratio to B1 exceeds the instructions', from each object's instructions per ns:
    only what this run's numbers show."""
    ext, pg_rv, pg_b1 = (rate("render_vars", "the extension"), rate("render_vars", "PostgreSQL"),
                         rate("baseline_b_precomputed", "PostgreSQL"))
    said = (f"The extension's own code runs at {ext:.1f} instructions per ns against {pg_rv:.1f} for "
            "PostgreSQL's in the same call (a template engine's and a JSON walker's branchy code, and the "
            "Rust heap behind it)")
    if pg_rv < pg_b1:
        return (said + f", and PostgreSQL's code, the same functions B1 runs, at {pg_rv:.1f} in `render_vars` "
                f"against {pg_b1:.1f} in B1: more code goes through the same first-level caches and TLB "
                "(callgrind's miss counts above), so each part runs colder than in a loop of one statement.")
    return (said + f"; PostgreSQL's code runs no slower than in B1 ({pg_rv:.1f} against {pg_b1:.1f}), so "
            "the time beyond the instructions' share is the extension's own code, the C library's "
            "allocations behind it and the kernel's.")
