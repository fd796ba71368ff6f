# Throwaway PostgreSQL clusters (15 unless PG_BIN names another major's programs) for the demo, the SQL tests and the benchmarks.
# Source this file. PostgreSQL refuses to run as root, so when we are root the server runs as
# the `postgres` user; its data and socket live under one directory that is removed at the end.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# as_pg CMD...: run a command as the cluster owner.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        sudo -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# cluster_key_file FILE [ID]: a fresh random key ring of one key (id ID, default k1), owned by
# the cluster owner and readable by it alone, as noetl_vars.key_file requires.
cluster_key_file() {
    local file=$1 id=${2:-k1}
    ( umask 077; echo "$id $(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$file" )
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$file"; fi
    chmod 600 "$file"
}

# cluster_start DIR [postgresql.conf lines...]: initdb + start; exports PGHOST/PGPORT/PGUSER.
# The library is preloaded, as docs/install.md says (PRELOAD=no leaves it out, to
# test what happens without). INITDB_OPTIONS are passed to initdb. Sensitive variables are
# encrypted with the key ring DIR/noetl_vars.keys (KEYS=no leaves it out).
cluster_start() {
    local dir=$1; shift
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    CLUSTER_DIR=$dir
    export PGPORT=${PGPORT_WANTED:-$(free_port)}
    export PGHOST=$dir
    export PGUSER=postgres
    export PGDATABASE=postgres
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 ${INITDB_OPTIONS:-} >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    if [ "${KEYS:-yes}" = yes ]; then cluster_key_file "$dir/noetl_vars.keys"; fi
    {
        echo "listen_addresses = ''"
        echo "port = $PGPORT"
        echo "unix_socket_directories = '$dir'"
        echo "fsync = off"
        echo "max_connections = 50"
        if [ "${PRELOAD:-yes}" = yes ]; then echo "shared_preload_libraries = 'noetl_vars'"; fi
        if [ "${KEYS:-yes}" = yes ]; then echo "noetl_vars.key_file = '$dir/noetl_vars.keys'"; fi
        for line in "$@"; do echo "$line"; done
    } | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    as_pg env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || { cat "$dir/server.log" >&2; return 1; }
}

cluster_stop() {
    [ -n "${CLUSTER_DIR:-}" ] || return 0
    as_pg "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}

# cluster_crashes: prints backends that died by a signal (there must be none).
cluster_crashes() {
    grep -E "terminated by signal|was terminated by" "$CLUSTER_DIR/server.log" || true
}
