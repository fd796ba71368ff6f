#!/usr/bin/env bash
# The Debian packages (scripts/package.sh) for every major are built; the one for 15 is
# installed with dpkg -i in place of the manual install, used (CREATE EXTENSION, a render,
# an update from 0.1.0), and removed with dpkg -r, which must leave none of its files behind.
# Then META.json is validated against the PGXN meta spec. Needs root. Runs a cluster of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
source scripts/cluster.sh
fail=0
name=postgresql-15-noetl-vars
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

scripts/package.sh
version=$(sed -nE 's/^version = "([^"]+)"$/\1/p' Cargo.toml | head -1)
deb=target/debian/${name}_${version}_amd64.deb
for major in "${PG_MAJORS[@]}"; do
    d=target/debian/postgresql-$major-noetl-vars_${version}_amd64.deb
    contents=$(dpkg-deb -c "$d")   # (not piped into grep -q: under pipefail its early exit fails the pipe)
    if [ "$(dpkg-deb -f "$d" Depends | cut -d, -f1)" = "postgresql-$major" ] \
            && grep -q "/usr/lib/postgresql/$major/lib/noetl_vars.so$" <<<"$contents" \
            && grep -q "/usr/share/postgresql/$major/extension/noetl_vars.control$" <<<"$contents"; then
        echo "ok   $(basename "$d"): depends on postgresql-$major, files in /usr/lib/postgresql/$major/lib and /usr/share/postgresql/$major/extension"
    else
        echo "FAIL $(basename "$d"): $(dpkg-deb -f "$d" Depends)"; fail=1
    fi
done

# The manual install (scripts/install.sh) goes first: dpkg refuses to overwrite files that no
# package owns only with --force, and a clean install is what an operator does.
libdir=/usr/lib/postgresql/15/lib extdir=/usr/share/postgresql/15/extension
as_root rm -f "$libdir/noetl_vars.so" "$extdir"/noetl_vars.control "$extdir"/noetl_vars--*.sql
as_root dpkg -i "$deb" >/dev/null
mapfile -t files < <(dpkg -L "$name" | while read -r f; do [ -f "$f" ] && echo "$f"; done)
echo "ok   dpkg -i $(basename "$deb"): ${#files[@]} files"

dir=$(mktemp -d /tmp/noetl_vars_package.XXXXXX)
# Whatever happens, no cluster is left running and the manual install is back for what runs next.
restore() {
    cluster_stop
    if dpkg-query -W "$name" >/dev/null 2>&1; then as_root dpkg -r "$name" >/dev/null 2>&1 || true; fi
    ./scripts/install.sh >/dev/null
}
trap restore EXIT
cluster_start "$dir"
got=$(psql -X -q -At -v ON_ERROR_STOP=1 -d postgres <<'SQL' 2>&1
CREATE DATABASE pkg;
\c pkg
CREATE EXTENSION noetl_vars;
SELECT noetl.render_vars(1, 's', '{"data": {"n": 41}}', '{"n": "{{ result.n + 1 }}"}')->>'n';
SELECT noetl.get_var(1, 'n');
CREATE DATABASE pkg_old;
\c pkg_old
CREATE EXTENSION noetl_vars VERSION '0.1.0';
ALTER EXTENSION noetl_vars UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'noetl_vars';
SQL
) || true
want=$(printf '42\n42\n%s' "$version")
if [ "$got" = "$want" ]; then
    echo "ok   the packaged extension: CREATE EXTENSION, render_vars, get_var, update from 0.1.0"
else
    echo "FAIL the packaged extension gave: $got"; fail=1
fi
crashes=$(cluster_crashes)
cluster_stop
rm -rf "$dir"
[ -z "$crashes" ] || { echo "FAIL $crashes"; fail=1; }

# (postgresql-common rebuilds its dictionaries on removal and says so; shown only on failure)
as_root dpkg -r "$name" >"$dir.dpkg" 2>&1 || { cat "$dir.dpkg"; exit 1; }
rm -f "$dir.dpkg"
left=()
for f in "${files[@]}"; do [ ! -e "$f" ] || left+=("$f"); done
left+=($(ls "$libdir"/noetl_vars* "$extdir"/noetl_vars* 2>/dev/null || true))
if [ ${#left[@]} -eq 0 ] && ! dpkg-query -W "$name" >/dev/null 2>&1; then
    echo "ok   dpkg -r: no file of the package left"
else
    echo "FAIL dpkg -r left: ${left[*]}"; fail=1
fi

if pgxn_meta META.json >"$dir.meta" 2>&1; then
    echo "ok   META.json is valid PGXN metadata ($(pgxn_meta --version 2>/dev/null || echo pgxn_meta))"
else
    echo "FAIL META.json:"; cat "$dir.meta"; fail=1
fi
rm -f "$dir.meta"
meta_versions=$(python3 -c 'import json; m = json.load(open("META.json")); print(m["version"], *(p["version"] for p in m["provides"].values()))')
if [ "$meta_versions" = "$version $version" ]; then
    echo "ok   META.json is for version $version, as Cargo.toml"
else
    echo "FAIL META.json versions $meta_versions, Cargo.toml $version"; fail=1
fi
exit $fail
