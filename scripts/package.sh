#!/usr/bin/env bash
# Debian packages of noetl_vars, one per PostgreSQL major, named and laid out as PostgreSQL's
# own Debian packaging does for extensions:
#   scripts/package.sh [MAJOR...]        (default: 15 16 17 18)
#   -> target/debian/postgresql-NN-noetl-vars_<version>_amd64.deb, depending on postgresql-NN
# Each is made with dpkg-deb from the `cargo pgrx package` tree built against that major's
# headers; its files go where Debian's (and the PGDG's) postgresql-NN looks for them:
# /usr/lib/postgresql/NN/lib and /usr/share/postgresql/NN/extension.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=("${PG_MAJORS[@]}")
version=$(sed -nE 's/^version = "([^"]+)"$/\1/p' Cargo.toml | head -1)
out=target/debian
mkdir -p "$out"

# glibc_needed SO: the newest glibc symbol version the library uses (for Depends: libc6).
glibc_needed() {
    objdump -T "$1" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/GLIBC_//' | sort -V | tail -1
}

for major in "${majors[@]}"; do
    config=$(pg_config_for "$major")
    tree=target/package/pg$major
    rm -rf "$tree"
    cargo pgrx package --pg-config "$config" --out-dir "$tree" >/dev/null
    name=postgresql-$major-noetl-vars
    root=$(mktemp -d)
    lib=$root/usr/lib/postgresql/$major/lib
    ext=$root/usr/share/postgresql/$major/extension
    doc=$root/usr/share/doc/$name
    install -d -m 755 "$lib" "$ext" "$doc" "$root/DEBIAN"
    so=$(find "$tree" -name noetl_vars.so)
    install -m 644 "$so" "$lib/noetl_vars.so"
    find "$tree" -path '*/extension/*' -type f -exec install -m 644 {} "$ext/" \;
    install -m 644 sql/versions/noetl_vars--*.sql "$ext/"
    install -m 644 README.md "$doc/README.md"
    {
        printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n'
        printf 'Upstream-Name: noetl_vars\n\nFiles: *\nLicense: PostgreSQL\n'
        # The licence text, as a Debian copyright field: indented, blank lines as " .".
        sed -e 's/^$/./' -e 's/^/ /' LICENSE
    } >"$doc/copyright"
    cat >"$root/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: amd64
Maintainer: noetl_vars developers <noetl-vars@localhost>
Depends: postgresql-$major, libc6 (>= $(glibc_needed "$lib/noetl_vars.so"))
Section: database
Priority: optional
Installed-Size: $(du -sk "$root/usr" | cut -f1)
Description: NoETL execution-scoped variables for PostgreSQL $major
 noetl_vars keeps the NoETL workflow engine's execution-scoped variables inside
 PostgreSQL: one SQL call renders a step's variables and stores them, typed and
 atomically, inside the caller's transaction.
 .
 After installing: shared_preload_libraries = 'noetl_vars', restart, then
 CREATE EXTENSION noetl_vars; in each database that should have it.
EOF
    deb=$out/${name}_${version}_amd64.deb
    dpkg-deb --build --root-owner-group "$root" "$deb" >/dev/null
    rm -rf "$root"
    echo "$deb ($(du -h "$deb" | cut -f1), built against $("$config" --version))"
done
