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
echo "installed into $("$PG_CONFIG" --sharedir)/extension; now run: CREATE EXTENSION noetl_vars;"
