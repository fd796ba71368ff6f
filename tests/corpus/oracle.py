#!/usr/bin/env python3
"""Differential oracle for the noetl_vars template corpus.

Computes, with real Jinja2 3.1, the typed value that must be stored for every case of
``cases.json`` (same directory) and writes the file back in place.

How to run
----------
    python3 -m venv /tmp/corpus-venv
    /tmp/corpus-venv/bin/pip install 'jinja2==3.1.*'
    /tmp/corpus-venv/bin/python oracle.py            # rewrites cases.json
    /tmp/corpus-venv/bin/python oracle.py --check    # only report, exit 1 if cases.json is stale

Input: every case has ``template`` (any JSON value), ``result`` (the step result envelope,
``this``), ``context`` and ``vars``.  ``expected`` / ``expected_error`` may be missing; they are
(re)computed.  Output fields written by this script:

* ``expected``        the typed JSON value to store (absent when rendering must fail)
* ``expected_error``  ``true`` when rendering must fail (absent otherwise)
* ``error_detail``    the Jinja2 exception, for humans (error cases only)
* ``plain_render``    only for a single-``{{ }}`` string whose typed value is not a string: the
                      text plain ``str()`` rendering (the old NoETL behaviour) would have stored
* ``jinja2_actual``   only for ``"jinja2_quirk": true`` cases: what unmodified Jinja2 gives
                      (``{"value": ...}`` or ``{"error": "..."}``), while ``expected`` holds the
                      sensible answer (see "Quirk semantics" below)

All other fields (``name``, ``source``, ``note``, ``jinja2_quirk``...) are kept as they are.

The contract implemented (rendering rules)
------------------------------------------
Template context:
  this          = result exactly as given
  result        = this["data"] if this is a dict with key "data", else this
  vars          = the vars dict
  execution_id  = 1 (int);  step = "step"
  workload, job, results, and every other key of ``context`` as top-level names;
  every entry of context["results"] also as a top-level name (its step name).
  Bare-name priority: (reserved names above and context keys) > vars > step results
  > workload > Jinja2 globals.  ``null`` is an extra global meaning None.

Undefined: missing name / key / index / attribute is an error when printed, iterated, compared,
used in arithmetic, measured or accessed further; it is fine with ``| default(...)``,
``is defined`` / ``is undefined`` and as a condition (falsy).  ``default`` replaces only
undefined, not None (unless ``default(x, true)``).

Extra filters: b64encode, b64decode (UTF-8 text <-> standard base64).  Extra global: now().
``tojson`` is Jinja2's own (sorted keys, HTML-safe escapes of < > & ').
Environment: Jinja2 defaults otherwise (autoescape off, keep_trailing_newline False).

Typing of the configured value:
  1. non-string (number, bool, null) -> stored as given; objects / arrays are walked, every
     nested string follows rules 2-3, keys are never rendered.
  2. a string that is exactly one ``{{ expression }}`` (surrounding whitespace allowed, no
     other ``{{``, ``{%`` or ``{#``) -> the expression's native value
     (``env.compile_expression``), converted to JSON: None->null, bool, int, float, str (never
     re-parsed), dict->object, list/tuple->array.  Any other Python value (an Undefined, a
     generator from map/select without ``| list``, a dict view, a bound method, NaN...) is an
     error.
  3. any other string containing ``{{``, ``{%`` or ``{#`` -> ``env.from_string(s).render(ctx)``
     (text); a string without template syntax is stored unchanged.
  Any exception -> expected_error.

Quirk semantics (only for cases marked ``"jinja2_quirk": true``)
----------------------------------------------------------------
Same as above with three corrections a playbook author would expect:
  a. ``obj.name`` on a dict looks the key up first (Jinja2 prefers the Python attribute, so
     ``this.data.items`` is the ``dict.items`` method when the dict has an "items" key);
  b. ``x is number`` is false for booleans (Jinja2: ``true is number`` is true);
  c. a lazy sequence (generator from map/select/reject/unique, dict views) is a list.
Every non-quirk case is also evaluated under quirk semantics; if the answers differ a warning
is printed, so an unmarked quirk cannot slip in.

Lint: objects in ``result`` / ``context`` / ``vars`` should be in PostgreSQL jsonb key order
(byte length, then bytes) so order-dependent output is the same on both sides; a warning is
printed otherwise.  Warnings make the exit status 1 (the file is still written).
"""

import base64
import datetime
import json
import math
import re
import sys
import types
from collections.abc import Mapping
from pathlib import Path

import jinja2
from jinja2 import Environment, Undefined

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.json"

TEMPLATE_MARKERS = ("{{", "{%", "{#")


# --------------------------------------------------------------------------- undefined
class FalsyStrictUndefined(Undefined):
    """Raises on every use except truth testing, ``is defined`` and ``| default``.

    The base class already raises on attribute / item access, calls, arithmetic and ordering
    comparisons; printing, iteration, length, membership, equality and hashing are made strict
    here (they are lenient in the base class).  ``__bool__`` stays False.
    """

    __slots__ = ()

    def _fail(self, *args, **kwargs):
        self._fail_with_undefined_error()

    __str__ = _fail
    __iter__ = _fail
    __len__ = _fail
    __contains__ = _fail
    __eq__ = _fail
    __ne__ = _fail
    __hash__ = _fail
    __format__ = _fail
    __aiter__ = _fail

    def __bool__(self):
        return False


# --------------------------------------------------------------------------- extras
def _b64encode(value):
    if isinstance(value, Undefined):
        str(value)  # raises
    if not isinstance(value, str):
        raise TypeError(f"b64encode expects a string, got {type(value).__name__}")
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _b64decode(value):
    if isinstance(value, Undefined):
        str(value)  # raises
    if not isinstance(value, str):
        raise TypeError(f"b64decode expects a string, got {type(value).__name__}")
    return base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")


def _now():  # present in the contract; never used by the corpus
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _is_lazy(value):
    return isinstance(
        value,
        (types.GeneratorType, type({}.keys()), type({}.values()), type({}.items()),
         map, filter, zip, reversed),
    )


class QuirkFixedEnvironment(Environment):
    """Jinja2 with the three corrections described in the module docstring."""

    def getattr(self, obj, attribute):
        if isinstance(obj, Mapping) and not isinstance(obj, Undefined):
            try:
                if attribute in obj:
                    return obj[attribute]
            except TypeError:
                pass
        return super().getattr(obj, attribute)


def _quirk_finalize(value):
    return list(value) if _is_lazy(value) else value


def make_env(quirk_fixed=False):
    if quirk_fixed:
        env = QuirkFixedEnvironment(undefined=FalsyStrictUndefined, finalize=_quirk_finalize)
        env.tests["number"] = lambda v: (
            isinstance(v, (int, float)) and not isinstance(v, bool)
        )
    else:
        env = Environment(undefined=FalsyStrictUndefined)
    env.globals["null"] = None
    env.globals["now"] = _now
    env.filters["b64encode"] = _b64encode
    env.filters["b64decode"] = _b64decode
    return env


# --------------------------------------------------------------------------- context
def build_context(this, context, vars_):
    """Flat name -> value mapping, lowest priority first, later updates win."""
    context = context or {}
    vars_ = vars_ if vars_ is not None else {}
    ctx = {}
    workload = context.get("workload")
    if isinstance(workload, dict):
        ctx.update(workload)                       # workload keys
    results = context.get("results")
    if isinstance(results, dict):
        ctx.update(results)                        # step results by step name
    if isinstance(vars_, dict):
        ctx.update(vars_)                          # stored variables
    ctx.update(context)                            # workload, job, results, any other key
    ctx["this"] = this
    ctx["result"] = this["data"] if isinstance(this, dict) and "data" in this else this
    ctx["vars"] = vars_
    ctx["execution_id"] = 1
    ctx["step"] = "step"
    return ctx


# --------------------------------------------------------------------------- typing
def single_expression(env, source):
    """Return the inner expression if ``source`` is exactly one ``{{ ... }}``, else None."""
    if not source.strip().startswith("{{") or not source.strip().endswith("}}"):
        return None
    try:
        tokens = list(env.lex(source))
    except jinja2.TemplateSyntaxError:
        return None
    begins = 0
    for _, kind, value in tokens:
        if kind == "variable_begin":
            begins += 1
        elif kind in ("block_begin", "comment_begin", "raw_begin",
                      "linestatement_begin", "linecomment_begin"):
            return None
        elif kind == "data" and value.strip():
            return None
    if begins != 1:
        return None
    start = source.index("{{") + 2
    end = source.rindex("}}")
    if source[start:start + 1] in ("-", "+"):
        start += 1
    if end > start and source[end - 1] == "-":
        end -= 1
    return source[start:end]


def to_json(value, quirk_fixed):
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or isinstance(value, (bool, str)):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a JSON number")
        return value
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"object key {k!r} is not a string")
            out[k] = to_json(v, quirk_fixed)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(v, quirk_fixed) for v in value]
    if quirk_fixed and _is_lazy(value):
        return [to_json(v, quirk_fixed) for v in value]
    raise TypeError(f"value of Python type {type(value).__name__} has no JSON type")


def render_value(env, template, ctx, quirk_fixed):
    if isinstance(template, str):
        if not any(m in template for m in TEMPLATE_MARKERS):
            return template
        inner = single_expression(env, template)
        if inner is not None:
            expr = env.compile_expression(inner, undefined_to_none=False)
            return to_json(expr(ctx), quirk_fixed)
        return env.from_string(template).render(ctx)
    if isinstance(template, dict):
        return {k: render_value(env, v, ctx, quirk_fixed) for k, v in template.items()}
    if isinstance(template, list):
        return [render_value(env, v, ctx, quirk_fixed) for v in template]
    return template  # number, bool, null


def evaluate(case, quirk_fixed):
    env = make_env(quirk_fixed)
    ctx = build_context(case.get("result"), case.get("context"), case.get("vars"))
    try:
        return True, render_value(env, case["template"], ctx, quirk_fixed)
    except Exception as exc:  # any failure means "rendering must fail"
        return False, f"{type(exc).__name__}: {exc}"


def plain_render(case):
    """What str()-based rendering (old NoETL) stores for a single-expression string."""
    template = case["template"]
    if not isinstance(template, str):
        return None
    env = make_env(False)
    if single_expression(env, template) is None:
        return None
    try:
        text = env.from_string(template).render(
            build_context(case.get("result"), case.get("context"), case.get("vars")))
    except Exception:
        return None
    if re.search(r" at 0x[0-9a-f]+", text):
        return None
    return text


def jsonb_key(key):
    return (len(key.encode("utf-8")), key.encode("utf-8"))


def first_unordered_object(value, path="$"):
    """Path of the first object whose keys are not in PostgreSQL jsonb order, or None.

    jsonb stores object keys sorted by (byte length, bytes); Jinja2 iterates dicts in insertion
    order.  Inputs are kept in jsonb order so that order-dependent output (``| list`` of a
    dict, ``.keys()``, a dict printed in text) is the same whichever side parsed the JSON.
    """
    if isinstance(value, dict):
        keys = list(value)
        if keys != sorted(keys, key=jsonb_key):
            return path
        for k, v in value.items():
            found = first_unordered_object(v, f"{path}.{k}")
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = first_unordered_object(v, f"{path}[{i}]")
            if found:
                return found
    return None


def same_json(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# --------------------------------------------------------------------------- main
def process(cases):
    warnings = []
    names = set()
    for case in cases:
        name = case.get("name")
        if not name or not re.fullmatch(r"[a-z0-9_]+", name):
            warnings.append(f"bad name: {name!r}")
        if name in names:
            warnings.append(f"duplicate name: {name}")
        names.add(name)

        for field in ("result", "context", "vars"):
            where = first_unordered_object(case.get(field), field)
            if where:
                warnings.append(f"{name}: keys of {where} are not in jsonb order")

        quirk = bool(case.get("jinja2_quirk"))
        ok_plain, val_plain = evaluate(case, quirk_fixed=False)
        ok_fixed, val_fixed = evaluate(case, quirk_fixed=True)
        ok, val = (ok_fixed, val_fixed) if quirk else (ok_plain, val_plain)

        for key in ("expected", "expected_error", "error_detail", "plain_render",
                    "jinja2_actual"):
            case.pop(key, None)
        if ok:
            case["expected"] = val
        else:
            case["expected_error"] = True
            case["error_detail"] = val
        if ok:
            text = plain_render(case)
            if text is not None and not isinstance(val, str):
                case["plain_render"] = text
        if quirk:
            case["jinja2_actual"] = {"value": val_plain} if ok_plain else {"error": val_plain}
            if ok_plain == ok_fixed and (not ok_plain or same_json(val_plain, val_fixed)):
                warnings.append(f"{name}: marked jinja2_quirk but Jinja2 agrees with the fix")
        elif ok_plain != ok_fixed or (ok_plain and not same_json(val_plain, val_fixed)):
            warnings.append(f"{name}: differs under quirk semantics; mark jinja2_quirk?")
    return warnings


def ordered(case):
    order = ["name", "source", "template", "result", "context", "vars", "expected",
             "expected_error", "error_detail", "plain_render", "jinja2_quirk", "jinja2_actual",
             "note"]
    out = {k: case[k] for k in order if k in case}
    out.update({k: v for k, v in case.items() if k not in out})
    return out


def main(argv):
    check_only = "--check" in argv
    original = CASES.read_text(encoding="utf-8")
    cases = json.loads(original)
    warnings = process(cases)
    cases = [ordered(c) for c in cases]
    text = json.dumps(cases, indent=2, ensure_ascii=False) + "\n"
    for w in warnings:
        print("WARNING:", w, file=sys.stderr)
    n_err = sum(1 for c in cases if c.get("expected_error"))
    n_quirk = sum(1 for c in cases if c.get("jinja2_quirk"))
    n_real = sum(1 for c in cases if not str(c.get("source", "")).startswith("synthetic"))
    print(f"jinja2 {jinja2.__version__}: {len(cases)} cases, {n_real} from playbooks/docs, "
          f"{n_err} expected errors, {n_quirk} jinja2 quirks")
    if check_only:
        if text != original:
            print("cases.json is not up to date; run oracle.py", file=sys.stderr)
            return 1
        return 0
    CASES.write_text(text, encoding="utf-8")
    return 1 if warnings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
