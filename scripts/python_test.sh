#!/usr/bin/env bash
# The Python package (python/, docs: python/README.md), against the running throwaway cluster
# (PGHOST/PGPORT, as scripts/cluster.sh exports them): ruff, mypy --strict and pytest in a
# virtual environment of its own, then its wheel built and installed into a fresh environment
# where a call is made. Needs the extension installed in that cluster's server.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${PYTHON_TEST_VENV:-$HOME/.cache/noetl_vars/python-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -e "$here/python[test,fastapi]" build

cd "$here/python"
echo "ruff:"
"$venv/bin/ruff" check src tests
"$venv/bin/ruff" format --check src tests
echo "mypy --strict:"
"$venv/bin/mypy" src

db=noetl_vars_python
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -c "CREATE EXTENSION noetl_vars"
export NOETL_VARS_DSN="host=$PGHOST port=$PGPORT user=${PGUSER:-postgres} dbname=$db"
echo "pytest:"
"$venv/bin/pytest" -q -p no:cacheprovider

echo "the wheel, installed into a fresh environment:"
out=$(mktemp -d /tmp/noetl_vars_wheel.XXXXXX)
trap 'rm -rf "$out"' EXIT
"$venv/bin/python" -m build -q --wheel --outdir "$out/dist" . >/dev/null
python3 -m venv "$out/venv"
"$out/venv/bin/pip" install -q --disable-pip-version-check "$out"/dist/noetl_vars-*.whl
# Only what the package declares is installed: psycopg and psycopg-pool (plus psycopg's own).
"$out/venv/bin/pip" install -q --disable-pip-version-check 'psycopg[binary]'
"$out/venv/bin/python" - <<'PY'
import noetl_vars
from noetl_vars import sync

n = sync.TransientVars.set_multiple({"from_the_wheel": 12345678901234567890123}, 7999999)
assert n == 1, n
assert sync.TransientVars.get_all_vars(7999999) == {"from_the_wheel": 12345678901234567890123}
assert sync.TransientVars.cleanup_execution(7999999) == 1
print(f"ok   noetl-vars {noetl_vars.__version__} from its wheel")
PY
rm -rf "$here/python/build" "$here/python/src/noetl_vars.egg-info"
