#!/bin/sh
# shutdown-exec.sh - stop an executor started by start-exec.sh, gracefully.
# Run `shutdown-exec.sh --help` for the options.
set -eu

prog=shutdown-exec.sh
# shutdown-web.sh runs this script for a web server.
kind=${crawlctl_shutdown_kind:-executor}

usage() {
	if [ "$kind" = web ]; then
		cat <<'EOF'
usage: shutdown-web.sh [--dir DIR] [--timeout S]

Stops the web server whose pid is in DIR/web.pid (as written by
start-web.sh): sends SIGTERM (it stops taking requests, lets those under way
finish for up to 10s, stops its dispatcher and scheduler), waits for it to
exit, and sends SIGKILL if it is still running after S seconds. Nothing is
lost either way: everything it knows is in the database, and the other web
servers (or this one, started again) carry on.

  --dir DIR     directory holding web.pid (default ./var/web)
  --timeout S   seconds to wait after SIGTERM before SIGKILL (default 30)
  -h, --help    print this help

Exit status: 0 when the web server stopped (or was not running: a stale pid
file is removed), 1 when it had to be killed or there is nothing to stop,
2 on bad usage.
EOF
		return
	fi
	cat <<'EOF'
usage: shutdown-exec.sh [--dir DIR] [--timeout S]

Stops the executor whose pid is in DIR/executor.pid: sends SIGTERM (the
executor takes no new work, lets its running flows finish for its
--drain-timeout, marks itself stopped and removes its port file), waits for
it to exit, and sends SIGKILL if it is still running after S seconds.

  --dir DIR     directory holding executor.pid (default ./var/executor)
  --timeout S   seconds to wait after SIGTERM before SIGKILL (default 660:
                the executor's default --drain-timeout of 10m plus a margin)
  -h, --help    print this help

Exit status: 0 when the executor stopped (or was not running: a stale pid
file is removed), 1 when it had to be killed or there is nothing to stop,
2 on bad usage.
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

dir=./var/executor
timeout=660
what=executor
match="executor serve"
if [ "$kind" = web ]; then
	prog=shutdown-web.sh
	dir=./var/web
	timeout=30
	what="web server"
	match="web serve"
fi
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
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
	*) usage_err "unknown argument '$1'" ;;
	esac
done
case $timeout in
'' | *[!0-9]*) usage_err "bad --timeout '$timeout': use whole seconds" ;;
esac

pidfile=$dir/$kind.pid
[ -f "$pidfile" ] || die "no pid file $pidfile: no $what was started from $dir (or it is already stopped)"
pid=$(cat "$pidfile" 2>/dev/null || true)
case $pid in
'' | *[!0-9]*) die "$pidfile does not hold a pid: '$pid'" ;;
esac

if ! alive "$pid"; then
	rm -f "$pidfile"
	echo "$prog: $what (pid $pid) is not running; removed the stale $pidfile"
	exit 0
fi
# Guard against a pid reused by another program since the executor died.
if [ -r "/proc/$pid/cmdline" ]; then
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
	case $cmd in
	*"$match"*) ;;
	*) die "pid $pid from $pidfile is not a crawlctl $what ($cmd): remove the stale pid file by hand" ;;
	esac
fi

kill -s TERM "$pid" 2>/dev/null || true
if [ "$kind" = web ]; then
	echo "$prog: sent SIGTERM to web server pid $pid; waiting up to ${timeout}s"
else
	echo "$prog: sent SIGTERM to executor pid $pid; waiting up to ${timeout}s for running flows to finish"
fi
deadline=$(($(date +%s) + timeout))
while alive "$pid"; do
	if [ "$(date +%s)" -gt "$deadline" ]; then
		kill -s KILL "$pid" 2>/dev/null || true
		rm -f "$pidfile"
		echo "$prog: $what pid $pid still running after ${timeout}s: killed it (SIGKILL)" >&2
		exit 1
	fi
	nap
done
rm -f "$pidfile"
echo "$prog: $what pid $pid stopped"
