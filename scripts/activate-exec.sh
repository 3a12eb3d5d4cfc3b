#!/bin/sh
# activate-exec.sh - activate an executor through its own HTTP endpoint, the
# way Azkaban does. Run `activate-exec.sh --help` for the options.
set -eu

prog=activate-exec.sh

usage() {
	cat <<'EOF'
usage: activate-exec.sh [--port-file FILE] [HOST[:PORT]]

Activates an executor, so that the dispatcher may assign it flows:
  curl -sS "http://HOST:PORT/executor?action=activate"
and prints the executor's JSON reply.

  HOST          executor host (default localhost)
  PORT          executor port (default: the number in the port file)
  --port-file FILE
                file holding the port, as written by crawlctl executor serve
                (default ./executor.port)
  -h, --help    print this help

Exit status: 0 when the reply is {"status":"success"}, 1 otherwise (no port,
executor unreachable, executor shutting down, database unavailable), 2 on bad
usage.
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

portfile=./executor.port
target=
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--port-file)
		[ $# -ge 2 ] || usage_err "--port-file needs a value"
		portfile=$2
		shift 2
		;;
	--port-file=*)
		portfile=${1#*=}
		shift
		;;
	-*) usage_err "unknown option '$1'" ;;
	*)
		[ -z "$target" ] || usage_err "one HOST[:PORT] only"
		target=$1
		shift
		;;
	esac
done
command -v curl >/dev/null 2>&1 || die "curl not found: install curl (apt-get install curl)"

host=localhost
port=
case $target in
'') ;;
\[*\]:*)
	host=${target%:*}
	port=${target##*:}
	;;
\[*\]) host=$target ;;
*:*:*) host="[$target]" ;;
*:*)
	host=${target%:*}
	port=${target##*:}
	;;
*) host=$target ;;
esac
[ -n "$host" ] || host=localhost
if [ -z "$port" ]; then
	[ -r "$portfile" ] || die "no port given and no port file $portfile (is the executor running? pass HOST:PORT or --port-file)"
	port=$(cat "$portfile")
fi
case $port in
'' | *[!0-9]*) die "bad port '$port': want digits" ;;
esac

url="http://$host:$port/executor?action=activate"
reply=$(curl -sS -m 10 "$url" 2>&1) || die "cannot reach the executor at $host:$port: $reply"
echo "$reply"
case $reply in
*'"status":"success"'*) ;;
*) die "executor at $host:$port did not activate" ;;
esac
