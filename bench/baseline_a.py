"""Baseline A: what the NoETL server does today for one step's vars: block.

1. read the execution's variables (TransientVars.get_all_vars: one SELECT),
2. render every template of the block with Jinja2 in Python (compiled templates cached, as the
   server caches them), typing single-expression templates the way the contract does,
3. write every variable with its own INSERT ... ON CONFLICT, autocommitted (the server's pool
   connections are in autocommit; one upsert per variable, as TransientVars.set_multiple).

`run(dsn, steps, ...)` performs `steps` such steps on one connection and returns the elapsed
seconds. The same inputs as the in-database path come from workloads.py.
"""

import json
import time

import jinja2
import psycopg
from psycopg.types.json import Jsonb

UPSERT = (
    "INSERT INTO noetl.transient (execution_id, var_name, var_type, var_value, source_step,"
    " created_at, accessed_at, access_count) VALUES (%s, %s, %s, %s, %s, now(), now(), 0)"
    " ON CONFLICT (execution_id, var_name) DO UPDATE SET var_value = EXCLUDED.var_value,"
    " var_type = EXCLUDED.var_type, source_step = EXCLUDED.source_step, accessed_at = now()"
)
READ_ALL = "SELECT var_name, var_value FROM noetl.transient WHERE execution_id = %s ORDER BY created_at"


class Renderer:
    """Jinja2 as the server uses it, with compiled templates cached by source."""

    def __init__(self):
        self.env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        self.env.globals["null"] = None
        self.templates = {}
        self.expressions = {}

    def value(self, template, context):
        if not isinstance(template, str) or not any(t in template for t in ("{{", "{%", "{#")):
            return template
        stripped = template.strip()
        if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
            expr = self.expressions.get(stripped)
            if expr is None:
                expr = self.env.compile_expression(stripped[2:-2])
                self.expressions[stripped] = expr
            return expr(**context)
        tmpl = self.templates.get(template)
        if tmpl is None:
            tmpl = self.env.from_string(template)
            self.templates[template] = tmpl
        return tmpl.render(**context)


def step(conn, renderer, execution_id, step_name, result, config, workload):
    with conn.cursor() as cur:
        cur.execute(READ_ALL, (execution_id,))
        variables = {name: value for name, value in cur.fetchall()}
        this = result
        context = {
            "this": this,
            "result": this.get("data", this) if isinstance(this, dict) else this,
            "vars": variables,
            "workload": workload,
            "execution_id": execution_id,
            "step": step_name,
        }
        rendered = {name: renderer.value(t, context) for name, t in config.items()}
        for name, value in rendered.items():
            cur.execute(UPSERT, (execution_id, name, "step_result", Jsonb(value), step_name))
    return rendered


def run(dsn, steps, execution_id, step_name, result, config, workload):
    renderer = Renderer()
    with psycopg.connect(dsn, autocommit=True) as conn:
        step(conn, renderer, execution_id, step_name, result, config, workload)  # warm caches
        start = time.perf_counter()
        for _ in range(steps):
            step(conn, renderer, execution_id, step_name, result, config, workload)
        return time.perf_counter() - start


if __name__ == "__main__":
    import sys

    from workloads import TYPICAL_CONFIG, TYPICAL_RESULT, TYPICAL_WORKLOAD

    elapsed = run(sys.argv[1], 500, 1, "fetch_users", TYPICAL_RESULT, TYPICAL_CONFIG, TYPICAL_WORKLOAD)
    print(json.dumps({"steps": 500, "seconds": elapsed, "steps_per_second": 500 / elapsed}))
