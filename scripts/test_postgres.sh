#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, from Debian's `postgresql` package.
#
#   scripts/test_postgres.sh start DIR PORT    # initdb in DIR (made if missing), start on 127.0.0.1:PORT
#   scripts/test_postgres.sh restart DIR       # stop and start again (what was committed stays)
#   scripts/test_postgres.sh stop DIR
#
# The server refuses to run as root, so it runs as the `postgres` user (runuser as root, else sudo);
# DIR belongs to that user. Trust authentication, local connections only. Prints the URL on start.
set -euo pipefail
action=${1:-}; dir=${2:-}; port=${3:-}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n $bin && -x $bin/pg_ctl ]] || { echo "PostgreSQL not found: apt-get install -y postgresql" >&2; exit 1; }
[[ -n $dir ]] || { echo "usage: $0 start DIR PORT | restart DIR | stop DIR" >&2; exit 2; }
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
case $action in
    start)
        [[ $port =~ ^[0-9]+$ ]] || { echo "start needs a PORT" >&2; exit 2; }
        if [ "$(id -u)" -eq 0 ]; then mkdir -p "$dir" && chown postgres "$dir"; else sudo mkdir -p "$dir" && sudo chown postgres "$dir"; fi
        as_postgres test -f "$dir/data/PG_VERSION" || as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
        as_postgres "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
        echo "postgresql://postgres@127.0.0.1:$port/postgres"
        ;;
    restart) as_postgres "$bin/pg_ctl" -D "$dir/data" -w -m fast -l "$dir/log" restart >/dev/null ;;
    stop) as_postgres "$bin/pg_ctl" -D "$dir/data" -w -m fast stop >/dev/null ;;
    *) echo "usage: $0 start DIR PORT | restart DIR | stop DIR" >&2; exit 2 ;;
esac
