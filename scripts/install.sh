#!/usr/bin/env bash
# Builds noetl_vars in release mode and installs it into an existing PostgreSQL 15 server:
#   PG_CONFIG=/path/to/pg_config ./scripts/install.sh
# Afterwards, in each database that should have it:  CREATE EXTENSION noetl_vars;
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
./scripts/setup.sh
sudo_flag=()
if [ "$(id -u)" -ne 0 ]; then sudo_flag=(--sudo); fi
cargo pgrx install --release --pg-config "$PG_CONFIG" "${sudo_flag[@]}"
# pgrx installs the current version's script and the upgrade scripts (sql/noetl_vars--A--B.sql);
# the scripts of earlier versions let `CREATE EXTENSION noetl_vars VERSION '…'` install them.
extdir="$("$PG_CONFIG" --sharedir)/extension"
if [ "$(id -u)" -eq 0 ]; then
    cp sql/versions/noetl_vars--*.sql "$extdir/"
else
    sudo cp sql/versions/noetl_vars--*.sql "$extdir/"
fi
echo "installed into $("$PG_CONFIG" --sharedir)/extension; now run: CREATE EXTENSION noetl_vars;"
