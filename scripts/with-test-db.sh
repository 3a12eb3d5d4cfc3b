#!/usr/bin/env bash
# usage: with-test-db.sh CMD [ARGS...]
#
# Runs CMD with CRAWLCTL_TEST_MYSQL_DSN pointing at a MySQL/MariaDB server.
# Uses the server at CRAWLCTL_TEST_MYSQL_DSN (default root@tcp(127.0.0.1:3306)/)
# when it answers; otherwise starts a throwaway MariaDB in a temp directory
# from the installed server binaries (installing mariadb-server with apt-get
# first when running as root on Debian/Ubuntu), and removes it afterwards.
# It never skips: with no database to be had it fails with one line saying
# how to get one.
set -euo pipefail

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] || [ $# -eq 0 ]; then
  sed -n '2,/^set /p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi

dsn="${CRAWLCTL_TEST_MYSQL_DSN:-root@tcp(127.0.0.1:3306)/}"

# answers HOST PORT: true when something accepts TCP connections there.
answers() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

addr=$(printf '%s' "$dsn" | sed -n 's/.*@tcp(\([^)]*\)).*/\1/p')
host=${addr%:*}
port=${addr##*:}
if [ -n "$addr" ] && answers "$host" "$port"; then
  export CRAWLCTL_TEST_MYSQL_DSN="$dsn"
  exec "$@"
fi

echo "with-test-db: no MySQL/MariaDB answers at ${addr:-$dsn}; starting a throwaway MariaDB" >&2

find_server() {
  for b in mariadbd mysqld; do
    for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin /usr/libexec; do
      if [ -x "$d/$b" ]; then echo "$d/$b"; return 0; fi
    done
  done
  return 1
}

server=$(find_server || true)
if [ -z "$server" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "with-test-db: installing mariadb-server with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >&2
  server=$(find_server || true)
fi
if [ -z "$server" ]; then
  echo "with-test-db: no MySQL/MariaDB found: install one (apt-get install mariadb-server) or set CRAWLCTL_TEST_MYSQL_DSN=user:pass@tcp(host:3306)/" >&2
  exit 1
fi
installdb=$(command -v mariadb-install-db || command -v mysql_install_db || true)
if [ -z "$installdb" ]; then
  echo "with-test-db: found $server but no mariadb-install-db to initialise a data directory" >&2
  exit 1
fi

datadir=$(mktemp -d "${TMPDIR:-/tmp}/crawlctl-mariadb.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$datadir"
}
trap cleanup EXIT INT TERM

"$installdb" --no-defaults --datadir="$datadir/data" --auth-root-authentication-method=normal --skip-test-db >"$datadir/install.log" 2>&1 || {
  echo "with-test-db: mariadb-install-db failed:" >&2
  tail -20 "$datadir/install.log" >&2
  exit 1
}

for _ in $(seq 1 50); do
  tport=$(( (RANDOM % 20000) + 30000 ))
  answers 127.0.0.1 "$tport" || break
done
user_flag=()
[ "$(id -u)" = 0 ] && user_flag=(--user=root)
"$server" --no-defaults --datadir="$datadir/data" --port="$tport" --bind-address=127.0.0.1 \
  --socket="$datadir/sock" --skip-grant-tables=0 --max-connections=500 "${user_flag[@]}" >"$datadir/server.log" 2>&1 &
pid=$!

for _ in $(seq 1 300); do
  if answers 127.0.0.1 "$tport"; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "with-test-db: MariaDB did not start:" >&2
    tail -20 "$datadir/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
if ! answers 127.0.0.1 "$tport"; then
  echo "with-test-db: MariaDB did not answer on port $tport within 30s" >&2
  exit 1
fi
echo "with-test-db: throwaway MariaDB on 127.0.0.1:$tport" >&2
export CRAWLCTL_TEST_MYSQL_DSN="root@tcp(127.0.0.1:$tport)/"
"$@"
