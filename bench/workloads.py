"""The inputs every benchmark shares, so that noetl_vars and the baselines do the same work."""

import json

# A typical step: ~1 KB result envelope, a 5-variable block with a path, a filter, a
# conditional, an increment and a text template.
TYPICAL_RESULT = {
    "status": "ok",
    "data": {
        "users": [
            {
                "id": 1000 + i,
                "email": f"user{i}@example.com",
                "name": f"User Number {i}",
                "roles": ["reader", "writer"] if i % 2 else ["reader"],
                "active": i % 3 != 0,
            }
            for i in range(7)
        ],
        "total": 7,
        "next": None,
    },
}
TYPICAL_CONFIG = {
    "first_user_id": "{{ result.users[0].id }}",
    "user_count": "{{ result.users | length }}",
    "status_label": "{{ 'done' if this.status == 'ok' else 'retry' }}",
    "attempts": "{{ vars.attempts | default(0) + 1 }}",
    "next_url": "{{ workload.api_base }}/users?page={{ vars.attempts | default(0) + 1 }}",
}
TYPICAL_WORKLOAD = {"api_base": "https://api.example.com"}
TYPICAL_CONTEXT = {"workload": TYPICAL_WORKLOAD}

# What the block evaluates to on a fresh execution (baseline B writes these, precomputed).
TYPICAL_VALUES = {
    "first_user_id": 1000,
    "user_count": 7,
    "status_label": "done",
    "attempts": 1,
    "next_url": "https://api.example.com/users?page=1",
}

# A block reading three fields, for the result-size scaling runs.
THREE_FIELDS_CONFIG = {
    "first_id": "{{ result.rows[0].id }}",
    "last_id": "{{ result.rows[-1].id }}",
    "total": "{{ result.total }}",
}


def sized_result(target_bytes):
    """A {"data": {"rows": [...], "total": n}} envelope of about `target_bytes` of JSON."""
    row = {"id": 0, "name": "x" * 40, "tags": ["alpha", "beta"], "score": 1.5, "ok": True}
    per_row = len(json.dumps(row)) + 2
    n = max(1, target_bytes // per_row)
    rows = [dict(row, id=i) for i in range(n)]
    return {"status": "ok", "data": {"rows": rows, "total": n}}


def dumps(value):
    return json.dumps(value, separators=(",", ":"))
