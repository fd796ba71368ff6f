#!/usr/bin/env bash
# Protected settings cannot be weakened by a role without the privilege, however it connects.
# An operator turns history on for a database; the application role connects with
# options='-c noetl_vars.track_history=off -c noetl_vars.max_value_bytes=256MB'.
#  - Library preloaded (shared_preload_libraries, docs/install.md's set-up): PostgreSQL refuses
#    the connection.
#  - Not preloaded: the session may connect, but every function of the extension and every
#    write of noetl.transient fails with 42501, so nothing runs without the history the
#    operator configured. Connections without such options work as usual.
#  - Either way, a login option naming another key file (noetl_vars.key_file, a server
#    setting) is refused the same way.
# Runs clusters of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cluster.sh
fail=0
check() {
    if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got '$2', want '$3'"; fail=1; fi
}
weakening="-c noetl_vars.track_history=off -c noetl_vars.max_value_bytes=256MB"

prepare() {
    psql -X -q -d postgres <<'SQL'
CREATE EXTENSION noetl_vars;
ALTER DATABASE postgres SET noetl_vars.track_history = on;
CREATE ROLE noetl_app LOGIN;
GRANT USAGE ON SCHEMA noetl TO noetl_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON noetl.transient TO noetl_app;
GRANT EXECUTE ON FUNCTION noetl.set_var(bigint, text, jsonb, text, text, interval), noetl.get_var(bigint, text) TO noetl_app;
SQL
}
as_app() { PGUSER=noetl_app PGOPTIONS="$1" psql -X -At -d postgres -c "$2" 2>&1 || true; }

for preload in yes no; do
    dir=$(mktemp -d /tmp/noetl_vars_settings.XXXXXX)
    unset PGPORT_WANTED
    PRELOAD=$preload cluster_start "$dir"
    prepare
    as_app "" "SELECT noetl.set_var(1, 'a', '1')" >/dev/null
    as_app "" "SELECT noetl.set_var(1, 'a', '2')" >/dev/null
    history=$(psql -X -At -d postgres -c "SELECT count(*) FROM noetl.transient_history WHERE var_name = 'a'")
    check "preload=$preload: history recorded for the application role's writes" "$history" 2
    out=$(as_app "$weakening" "SELECT noetl.set_var(1, 'b', '1')")
    if [ "$preload" = yes ]; then
        check "preload=yes: a connection setting protected options is refused" \
            "$(echo "$out" | grep -c 'permission denied to set parameter "noetl_vars.track_history"')" 1
    else
        check "preload=no: the function refuses to run in that session" \
            "$(echo "$out" | grep -c 'noetl_vars refuses to run in this session')" 1
        out=$(PGUSER=noetl_app PGOPTIONS="$weakening" psql -X -At -d postgres -c "\\set VERBOSITY sqlstate" \
                  -c "UPDATE noetl.transient SET var_value = '99' WHERE execution_id = 1" 2>&1 || true)
        check "preload=no: a plain UPDATE of noetl.transient is refused too (42501)" \
            "$(echo "$out" | grep -c 'ERROR:  42501')" 1
    fi
    # The key settings belong to the server's configuration: a login option naming another
    # key file is refused as well (with preload, by PostgreSQL at connection).
    out=$(as_app "-c noetl_vars.key_file=/nonexistent" "SELECT noetl.get_var(1, 'a')")
    if [ "$preload" = yes ]; then
        check "preload=yes: a connection naming a key file is refused" \
            "$(echo "$out" | grep -c 'parameter "noetl_vars.key_file" cannot be changed now')" 1
    else
        check "preload=no: a session naming a key file refuses to run" \
            "$(echo "$out" | grep -c 'noetl_vars refuses to run in this session: noetl_vars.key_file')" 1
    fi
    check "preload=$preload: nothing was written without history" \
        "$(psql -X -At -d postgres -c "SELECT count(*) FROM noetl.transient WHERE var_name = 'b' OR var_value = '99'")" 0
    check "preload=$preload: connections without such options still work" \
        "$(as_app "" "SELECT noetl.get_var(1, 'a')")" 2
    if grep -E "terminated by signal" "$dir/server.log"; then fail=1; fi
    cluster_stop
    rm -rf "$dir"
done
exit $fail
