#!/bin/sh
# start-web.sh - start `crawlctl web serve` in the background and wait until
# it answers /healthz. Run `start-web.sh --help` for the options.
set -eu

prog=start-web.sh

usage() {
	cat <<'EOF'
usage: start-web.sh [--bin PATH] [--dir DIR] [--timeout S] [--] [web serve flags...]

Starts `crawlctl web serve` in the background, with its log in DIR/web.log
and its pid in DIR/web.pid, and waits until GET /healthz answers.

  --bin PATH    crawlctl binary (default: bin/crawlctl of this checkout, else
                crawlctl next to this script, else crawlctl on PATH)
  --dir DIR     directory for web.log and web.pid (default ./var/web)
  --timeout S   seconds to wait for /healthz (default 30)
  -h, --help    print this help

Everything after the options (or after --) goes to `crawlctl web serve`,
e.g. --db mysql://... --listen 0.0.0.0:8081 --cluster-secret-file
/etc/crawlctl/cluster.secret. The web server refuses to start without
authentication: give it --cluster-secret-file FILE (mode 600, the same secret
as the executors), or set CRAWLCTL_CLUSTER_SECRET_FILE or
CRAWLCTL_CLUSTER_SECRET, or pass --insecure (no authentication at all; never
in production). The health check uses the --listen address among those
flags, else $CRAWLCTL_LISTEN, else the default 0.0.0.0:8081; a wildcard host
(0.0.0.0, ::, empty) is checked on 127.0.0.1. With --tls-cert among the
flags (or CRAWLCTL_TLS_CERT) it checks https, without verifying the
certificate (it is the process just started; /healthz carries nothing
secret). Once it runs, its REST API answers only requests with an API token
(CRAWLCTL_TOKEN for the CLI): create the first admin, and its token, with
`crawlctl user add admin --role admin --db DSN`.

Refuses to start when DIR/web.pid names a live process. Exit status: 0 when
the server answers, 1 when it exited or never answered (its log's tail is
printed, and a server that never answered is stopped), 2 on bad usage.
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage_err() {
	echo "$prog: $* (see $prog --help)" >&2
	exit 2
}

# alive PID: true while PID runs (a zombie counts as gone).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	if [ -r "/proc/$1/stat" ]; then
		state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || state=
		[ "$state" != Z ] || return 1
	fi
	return 0
}

nap() {
	sleep 0.2 2>/dev/null || sleep 1
}

# default_bin prints the crawlctl binary to use when --bin is not given.
default_bin() {
	here=$(cd "$(dirname "$0")" && pwd)
	for b in "$here/../bin/crawlctl" "$here/crawlctl"; do
		if [ -x "$b" ] && [ ! -d "$b" ]; then
			echo "$b"
			return 0
		fi
	done
	command -v crawlctl 2>/dev/null || true
}

bin=
dir=./var/web
timeout=30
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--bin)
		[ $# -ge 2 ] || usage_err "--bin needs a value"
		bin=$2
		shift 2
		;;
	--bin=*)
		bin=${1#*=}
		shift
		;;
	--dir)
		[ $# -ge 2 ] || usage_err "--dir needs a value"
		dir=$2
		shift 2
		;;
	--dir=*)
		dir=${1#*=}
		shift
		;;
	--timeout)
		[ $# -ge 2 ] || usage_err "--timeout needs a value"
		timeout=$2
		shift 2
		;;
	--timeout=*)
		timeout=${1#*=}
		shift
		;;
	--)
		shift
		break
		;;
	*)
		break
		;;
	esac
done

case $timeout in
'' | *[!0-9]*) usage_err "bad --timeout '$timeout': use whole seconds" ;;
esac
[ -n "$dir" ] || usage_err "--dir must not be empty"
[ -n "$bin" ] || bin=$(default_bin)
[ -n "$bin" ] || die "no crawlctl binary found: build it (go build -o bin/crawlctl ./cmd/crawlctl) or pass --bin PATH"
[ -x "$bin" ] || die "$bin is not an executable file"
command -v curl >/dev/null 2>&1 || die "curl not found: install curl (apt-get install curl)"

# The address to check: the last --listen among the flags, as the server
# itself would take it; https when it serves TLS.
listen=${CRAWLCTL_LISTEN:-0.0.0.0:8081}
tls_cert=${CRAWLCTL_TLS_CERT:-}
insecure=no
prev=
for a in "$@"; do
	case $prev in
	--listen) listen=$a ;;
	--tls-cert) tls_cert=$a ;;
	esac
	case $a in
	--listen=*) listen=${a#--listen=} ;;
	--tls-cert=*) tls_cert=${a#--tls-cert=} ;;
	--insecure | --insecure=true) insecure=yes ;;
	--insecure=false) insecure=no ;;
	esac
	prev=$a
done
case $listen in
*:*) ;;
*) usage_err "bad --listen '$listen': use HOST:PORT" ;;
esac
host=${listen%:*}
port=${listen##*:}
case $port in
'' | *[!0-9]*) usage_err "bad --listen '$listen': the port must be a number" ;;
0) usage_err "--listen with port 0 cannot be health-checked: give a fixed port" ;;
esac
case $host in
'' | 0.0.0.0 | '::' | '[::]') host=127.0.0.1 ;;
\[*) ;;
*:*) host="[$host]" ;;
esac
scheme=http
[ -z "$tls_cert" ] || scheme=https
url="$scheme://$host:$port"

# healthy: true when the server at $url answers /healthz.
healthy() {
	if [ "$scheme" = https ]; then
		curl -kfs -m 2 -o /dev/null "$url/healthz" 2>/dev/null
	else
		curl -fs -m 2 -o /dev/null "$url/healthz" 2>/dev/null
	fi
}

mkdir -p "$dir" || die "cannot create $dir"
pidfile=$dir/web.pid
log=$dir/web.log

if [ -f "$pidfile" ]; then
	old=$(cat "$pidfile" 2>/dev/null || true)
	case $old in
	'' | *[!0-9]*) ;;
	*)
		if alive "$old"; then
			die "already running: $pidfile names live process $old (stop it first, or use another --dir)"
		fi
		;;
	esac
	rm -f "$pidfile"
fi
if healthy; then
	die "something already answers at $url/healthz: another web server on that address? choose another --listen"
fi

if [ "$insecure" = yes ]; then
	echo "$prog: warning: --insecure: the REST API accepts every request without a token; never in production" >&2
fi

touch "$log" || die "cannot write $log"
start_line=$(($(wc -l <"$log") + 1))
echo "=== $prog: starting crawlctl web serve at $(date '+%Y-%m-%dT%H:%M:%S%z')" >>"$log"

# tail_log prints this run's last log lines to stderr.
tail_log() {
	echo "--- last lines of $log:" >&2
	tail -n "+$start_line" "$log" | tail -n 20 >&2
}

nohup "$bin" web serve "$@" </dev/null >>"$log" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"

deadline=$(($(date +%s) + timeout))
while :; do
	if ! alive "$pid"; then
		status=0
		wait "$pid" || status=$?
		rm -f "$pidfile"
		echo "$prog: crawlctl web serve exited with status $status before answering $url/healthz" >&2
		tail_log
		exit 1
	fi
	if healthy; then
		break
	fi
	if [ "$(date +%s)" -gt "$deadline" ]; then
		kill "$pid" 2>/dev/null || true
		rm -f "$pidfile"
		echo "$prog: crawlctl web serve (pid $pid) did not answer $url/healthz within ${timeout}s; stopped it" >&2
		tail_log
		exit 1
	fi
	nap
done

echo "crawlctl web serve started: pid $pid, $url, log $log"
