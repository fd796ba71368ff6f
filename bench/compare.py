"""Instructions per call of this build against the counts kept in bench/instructions.json:
the regression guard of the typical step and its parts (render_vars, apply_set, set_vars and
baseline B1), run by `scripts/bench.sh --compare`. A benchmark, never a test: it prints the
change and exits 0 whatever it is; `--update` writes this build's counts as the new reference.

Instruction counts (valgrind's callgrind, bench/instructions.py) barely move between runs (a
few tenths of a percent), so a change of one or two percent is a change of the code (or of
the PostgreSQL or valgrind build: both are recorded and shown)."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import instructions  # noqa: E402

KEPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "instructions.json")
KINDS = ("render_vars", "apply_set", "set_vars", "baseline_b_precomputed")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg-bin", required=True)
    parser.add_argument("--data-dir", required=True, help="a stopped cluster with bench/server.sql loaded")
    parser.add_argument("--db", default="noetl_vars_bench")
    parser.add_argument("--update", action="store_true", help="keep this build's counts as the reference")
    args = parser.parse_args()

    kept = json.load(open(KEPT)) if os.path.exists(KEPT) else None
    instructions.KINDS = KINDS
    instructions.PAUSED = ()
    now = instructions.measure(args.pg_bin, args.data_dir, args.db, lambda *a: None)
    per_call = {k: round(v) for k, v in now["per_call"].items()}

    print(f"instructions per call, {now['postgresql']}, {now['valgrind']}")
    if kept:
        print(f"reference: {kept['label']} ({kept['postgresql']}, {kept['valgrind']})")
        print(f"{'call':<28}{'reference':>12}{'this build':>12}{'change':>10}")
        for kind in KINDS:
            before = kept["per_call"].get(kind)
            after = per_call[kind]
            change = f"{(after - before) / before * 100:+.1f}%" if before else "new"
            print(f"{kind:<28}{before or '-':>12}{after:>12}{change:>10}")
    else:
        for kind in KINDS:
            print(f"{kind:<28}{per_call[kind]:>12}")
    if args.update:
        label = os.environ.get("BENCH_LABEL", "this build")
        with open(KEPT, "w") as f:
            json.dump({"label": label, "postgresql": now["postgresql"], "valgrind": now["valgrind"],
                       "per_call": per_call}, f, indent=2)
            f.write("\n")
        print(f"kept as the reference in {KEPT}")


if __name__ == "__main__":
    main()
