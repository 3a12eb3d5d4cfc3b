#!/bin/sh
# activate-exec.sh - activate an executor through its own HTTP endpoint, the
# way Azkaban does. Run `activate-exec.sh --help` for the options.
set -eu

prog=activate-exec.sh

usage() {
	cat <<'EOF'
usage: activate-exec.sh [--port-file FILE] [--secret-file FILE] [--cacert FILE] [HOST[:PORT]]

Activates an executor, so that the dispatcher may assign it flows:
  curl -sS -H @- "http://HOST:PORT/executor?action=activate"
with "Authorization: Bearer <cluster secret>" on curl's standard input, and
prints the executor's JSON reply.

  HOST          executor host (default localhost)
  PORT          executor port (default: the number in the port file)
  --port-file FILE
                file holding the port, as written by crawlctl executor serve
                (default ./executor.port)
  --secret-file FILE
                file whose first line is the cluster secret the executor runs
                with (its --cluster-secret-file, e.g.
                /etc/crawlctl/cluster.secret); default:
                $CRAWLCTL_CLUSTER_SECRET_FILE, else the secret itself from
                $CRAWLCTL_CLUSTER_SECRET, else none (only an executor started
                with --insecure activates without one)
  --cacert FILE the executor serves HTTPS (--tls-cert): use https and trust
                this CA certificate (PEM); the certificate must name HOST
  -h, --help    print this help

The secret reaches curl on its standard input (curl -H @-, curl 7.55 or
later), never on a command line, and is never printed.

Exit status: 0 when the reply is {"status":"success"}, 1 otherwise (no port,
executor unreachable, wrong or missing cluster secret, executor shutting
down, database unavailable), 2 on bad usage.
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

# read_secret FILE: sets secret to the first line of FILE without surrounding
# white space, as the daemons read it. The secret stays in this shell: read
# is a built-in, so it never shows in a process list.
read_secret() {
	if [ ! -f "$1" ] || [ ! -r "$1" ]; then
		die "cannot read the cluster secret file $1"
	fi
	secret=
	IFS= read -r secret <"$1" || [ -n "$secret" ] || die "the cluster secret file $1 is empty"
	secret=${secret#"${secret%%[![:space:]]*}"}
	secret=${secret%"${secret##*[![:space:]]}"}
	[ -n "$secret" ] || die "the first line of the cluster secret file $1 is empty"
}

# curl_auth ARGS...: curl with "Authorization: Bearer <secret>" when there is
# a secret. The header goes to curl on its standard input (-H @-, curl >=
# 7.55) through a here-document written by the shell itself, so the secret is
# on no command line (ps) and in no file.
curl_auth() {
	if [ -n "$secret" ]; then
		curl -H @- "$@" <<EOF
Authorization: Bearer $secret
EOF
	else
		curl "$@"
	fi
}

portfile=./executor.port
secret_file=
cacert=
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
	--secret-file)
		[ $# -ge 2 ] || usage_err "--secret-file needs a value"
		secret_file=$2
		[ -n "$secret_file" ] || usage_err "--secret-file must not be empty"
		shift 2
		;;
	--secret-file=*)
		secret_file=${1#*=}
		[ -n "$secret_file" ] || usage_err "--secret-file must not be empty"
		shift
		;;
	--cacert)
		[ $# -ge 2 ] || usage_err "--cacert needs a value"
		cacert=$2
		[ -n "$cacert" ] || usage_err "--cacert must not be empty"
		shift 2
		;;
	--cacert=*)
		cacert=${1#*=}
		[ -n "$cacert" ] || usage_err "--cacert must not be empty"
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

secret=
if [ -n "$secret_file" ]; then
	read_secret "$secret_file"
elif [ -n "${CRAWLCTL_CLUSTER_SECRET_FILE:-}" ]; then
	read_secret "$CRAWLCTL_CLUSTER_SECRET_FILE"
elif [ -n "${CRAWLCTL_CLUSTER_SECRET:-}" ]; then
	secret=$CRAWLCTL_CLUSTER_SECRET
fi

# The reply's last line is the HTTP status (curl -w); on a failure that line
# is 000 and is dropped from the message.
rc=0
if [ -n "$cacert" ]; then
	[ -r "$cacert" ] || die "cannot read the CA certificate $cacert"
	url="https://$host:$port/executor?action=activate"
	out=$(curl_auth -sS -m 10 --cacert "$cacert" -w '\n%{http_code}' "$url" 2>&1) || rc=$?
else
	url="http://$host:$port/executor?action=activate"
	out=$(curl_auth -sS -m 10 -w '\n%{http_code}' "$url" 2>&1) || rc=$?
fi
if [ "$rc" -ne 0 ]; then
	die "cannot reach the executor at $url: $(printf '%s\n' "$out" | sed '/^000$/d')"
fi
nl='
'
code=${out##*"$nl"}
reply=${out%"$nl"*}
reply=${reply%"$nl"}
echo "$reply"
case $code in
401)
	if [ -n "$secret" ]; then
		die "unauthorized: the executor at $host:$port rejected the cluster secret; give the one it runs with, with --secret-file or CRAWLCTL_CLUSTER_SECRET_FILE"
	fi
	die "unauthorized: give the cluster secret with --secret-file or CRAWLCTL_CLUSTER_SECRET_FILE"
	;;
esac
case $reply in
*'"status":"success"'*) ;;
*) die "executor at $host:$port did not activate (HTTP $code)" ;;
esac
