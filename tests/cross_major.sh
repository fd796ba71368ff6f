#!/usr/bin/env bash
# Across PostgreSQL majors, with the extension installed in each (scripts/test_major.sh):
#   1. pg_dump of 15 restored into 16, that dumped into 17, that into 18, each time with the
#      newer major's pg_dump and pg_restore (as PostgreSQL's documentation says to upgrade; for
#      17, 18's: the npm server of 17 has no client programs):
#      every variable and history row exactly as written on 15
#   2. pg_upgrade of a 15 cluster to 18 (where this machine's 15 allows: else shown why not,
#      and 16 -> 18): the same rows, and the upgraded extension works
# Runs clusters of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
source scripts/cluster.sh
work=$(mktemp -d /tmp/noetl_vars_cross.XXXXXX)
chmod 755 "$work"
dirs=()
stop_all() {
    for d in "${dirs[@]}"; do
        as_pg "$(cat "$d/bin")/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null 2>&1 || true
    done
}
trap 'stop_all; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
fail=0
bin_of() { "$(pg_config_for "$1")" --bindir; }

# start MAJOR NAME [initdb options...]: a cluster of that major; sets PGHOST/PGPORT.
start() {
    local major=$1 name=$2; shift 2
    local dir=$work/$name
    PG_BIN=$(bin_of "$major")
    mkdir -p "$dir" && echo "$PG_BIN" >"$dir/bin"
    dirs+=("$dir")
    INITDB_OPTIONS="$*" cluster_start "$dir"
}

rows="SELECT execution_id, var_name, var_type, var_value::text, source_step, access_count, created_at, accessed_at FROM noetl.transient ORDER BY 1, 2"
history="SELECT execution_id, var_name, operation, old_value::text, new_value::text, changed_at FROM noetl.transient_history ORDER BY 1, 2, changed_at, operation"
fill() {
    psql -X -q -v ON_ERROR_STOP=1 -d noetl >/dev/null <<'SQL'
CREATE EXTENSION noetl_vars;
SET noetl_vars.track_history = on;
SELECT noetl.set_vars(9007199254740993, '{"big": 12345678901234567890123, "huge": 1e400, "tiny": 1e-400, "s": "it''s \"quoted\" \u00e9\u6f22", "n": null, "o": {"a": [1, 2.50, -0.0]}}', 'computed', 'prep');
SELECT noetl.render_vars(1, 'fetch', '{"data": {"id": 7, "name": "x"}}', '{"id": "{{ result.id }}", "msg": "id={{ result.id }}", "obj": "{{ result }}"}');
SELECT noetl.render_iteration(1, 'loop', '{"k": 1}', 0, 3, NULL, '{}');
SELECT noetl.get_var(1, 'id');
SELECT noetl.set_var(1, 'id', '8');
SQL
}
snapshot() { psql -X -At -d noetl -c "$rows" >"$work/$1.rows"; psql -X -At -d noetl -c "$history" >"$work/$1.history"; }
same() {
    local from=$1 to=$2 what=$3
    if [ "$(wc -l <"$work/$from.rows")" -ge 10 ] && diff "$work/$from.rows" "$work/$to.rows" \
            && diff "$work/$from.history" "$work/$to.history"; then
        echo "ok   $what: all $(wc -l <"$work/$from.rows") variables and $(wc -l <"$work/$from.history") history rows exactly"
    else
        echo "FAIL $what: rows differ (diff above)"; fail=1
    fi
}
works() {
    local got
    got=$(psql -X -At -v ON_ERROR_STOP=1 -d noetl -c "SELECT noetl.render_vars(1, 'after', '{}', '{\"next\": \"{{ vars.id + 1 }}\"}')->>'next'" 2>&1) || true
    if [ "$got" = 9 ]; then echo "ok   $1: render_vars works afterwards"; else echo "FAIL $1: render_vars gave '$got'"; fail=1; fi
}

# 1. pg_dump along the majors.
start 15 d15
psql -X -q -d postgres -c "CREATE DATABASE noetl"
fill
snapshot d15
previous=d15 previous_env="$PGHOST $PGPORT"
for major in 16 17 18; do
    start "$major" "d$major"
    read -r src_host src_port <<<"$previous_env"
    bin=$(bin_of "$major")
    "$bin/pg_dump" -h "$src_host" -p "$src_port" -U postgres -Fc -d noetl -f "$work/d$major.dump"
    psql -X -q -d postgres -c "CREATE DATABASE noetl"
    "$bin/pg_restore" -U postgres --exit-on-error -d noetl "$work/d$major.dump"
    snapshot "d$major"
    same d15 "d$major" "pg_dump $(echo "$previous" | tr -d d) -> $major ($("$bin/pg_dump" --version))"
    previous=d$major previous_env="$PGHOST $PGPORT"
done
works "after the dumps, on 18"

# 2. pg_upgrade to 18. 18's initdb turns data checksums on by default and pg_upgrade wants
# both clusters alike: the new cluster is made without them, as the old one is.
# upgrade FROM TO NAME [extension]: pg_upgrade of a cluster of FROM, filled (with the extension,
# or with one plain table), to TO; its log in $work/NAME.log. Sets old/new names for the checks.
upgrade() {
    local from=$1 to=$2 name=$3 what=${4:-extension}
    old=${name}_old new=${name}_new
    # (called in an `if`, where set -e is off: each step returns on failure itself)
    start "$from" "$old" || return 1
    psql -X -q -d postgres -c "CREATE DATABASE noetl" || return 1
    if [ "$what" = extension ]; then
        fill && snapshot "$old" || return 1
    else
        psql -X -q -d noetl -c "CREATE TABLE plain (a int)" || return 1
    fi
    local old_port=$PGPORT
    start "$to" "$new" --no-data-checksums || return 1
    local new_port=$PGPORT new_bin
    new_bin=$(bin_of "$to")
    stop_all
    (cd "$work/$new" && as_pg "$new_bin/pg_upgrade" -b "$(bin_of "$from")" -B "$new_bin" \
        -d "$work/$old/data" -D "$work/$new/data" -p "$old_port" -P "$new_port" \
        -s "$work/$new" -U postgres) >"$work/$name.log" 2>&1 || return 1
    as_pg env -u RUST_BACKTRACE "$new_bin/pg_ctl" -D "$work/$new/data" -l "$work/$new/server.log" -w start >/dev/null || return 1
    export PGHOST=$work/$new PGPORT=$new_port
}
# refusal NAME: the error of a failed pg_upgrade, from its own logs.
refusal() { grep -rh "ERROR:" "$work/$1_new/data/pg_upgrade_output.d" 2>/dev/null | sed 's/.*ERROR: *//' | head -1; }
# checked FROM NAME: the upgraded cluster has every row and works.
checked() {
    echo "ok   pg_upgrade $1 -> 18 ($("$(bin_of 18)/pg_upgrade" --version)) with the extension installed"
    snapshot "$new"
    same "$old" "$new" "pg_upgrade $1 -> 18"
    works "after pg_upgrade $1 -> 18"
}

if upgrade 15 18 u15; then
    checked 15
else
    # Debian's 15 (15.20) stamps every column of every table with an attribute option,
    # pg_attver, that no other build here knows: 18's pg_restore then fails on any table at
    # all. Shown on a cluster with one plain table and no extension; the nearest pair that
    # pg_upgrade accepts, 16 -> 18, is then tested with the extension.
    why=$(refusal u15)
    if upgrade 15 18 p15 plain; then
        echo "FAIL pg_upgrade 15 -> 18 refused the extension ($why) but not a plain table"; fail=1
    elif [[ "$why" != *pg_attver* ]] || [ "$why" != "$(refusal p15)" ]; then
        echo "FAIL pg_upgrade 15 -> 18 with the extension: '$why' (a plain table: '$(refusal p15)')"
        tail -30 "$work/u15.log"; fail=1
    else
        echo "ok   pg_upgrade 15 -> 18 refuses every database with a table, the extension's or not: $(refusal p15)"
        echo "     ($(bin_of 15)/postgres --version: $("$(bin_of 15)/postgres" --version))"
        if upgrade 16 18 u16; then
            checked 16
        else
            echo "FAIL pg_upgrade 16 -> 18: $(refusal u16)"; tail -30 "$work/u16.log"; fail=1
        fi
    fi
fi
crashes=$(grep -hE "terminated by signal|was terminated by" "$work"/*/server.log || true)
if [ -n "$crashes" ]; then echo "FAIL $crashes"; fail=1; fi
exit $fail
