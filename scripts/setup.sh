#!/usr/bin/env bash
# Installs what building and testing noetl_vars needs, skipping whatever is already there:
# Debian packages, cargo-pgrx at the pinned version, and pgrx's registration of PostgreSQL 15.
# Safe to run again. Needs root (or sudo) for apt-get.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGRX_VERSION=0.18.1
PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-client-15 clang libclang-dev
          pkg-config sudo make python3 python3-venv)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's postgresql package starts a cluster of its own; this project never uses it.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
    say "note: a Debian-managed PostgreSQL cluster is running; noetl_vars uses its own throwaway clusters"
fi

if ! command -v cargo >/dev/null; then
    echo "cargo is required (install Rust with rustup first)" >&2
    exit 1
fi

if ! cargo pgrx --version 2>/dev/null | grep -q " $PGRX_VERSION\$"; then
    say "installing cargo-pgrx $PGRX_VERSION (takes a few minutes, once)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

PGRX_HOME=${PGRX_HOME:-$HOME/.pgrx}
if ! grep -qs "^pg15 = \"$PG_CONFIG\"" "$PGRX_HOME/config.toml"; then
    say "registering PostgreSQL 15 with pgrx"
    cargo pgrx init --pg15="$PG_CONFIG" >/dev/null
fi
