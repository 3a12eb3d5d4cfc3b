#!/bin/sh
# start-exec.sh - start `crawlctl executor serve` in the background, wait
# until it answers ping, and activate it. Run `start-exec.sh --help` for the
# options.
set -eu

prog=start-exec.sh

usage() {
	cat <<'EOF'
usage: start-exec.sh [--bin PATH] [--dir DIR] [--secret-file FILE] [--server URL] [--no-activate] [--timeout S] [--] [executor serve flags...]

Starts `crawlctl executor serve` in the background with its log in
DIR/executor.log, its pid in DIR/executor.pid and its port file in
DIR/executor.port, waits until
  curl -fsS "http://127.0.0.1:$(cat DIR/executor.port)/executor?action=ping"
answers alive, activates it, and prints its port.

  --bin PATH     crawlctl binary (default: bin/crawlctl of this checkout,
                 else crawlctl next to this script, else crawlctl on PATH)
  --dir DIR      directory for executor.log, executor.pid and executor.port
                 (default ./var/executor)
  --secret-file FILE
                 file whose first line is the cluster secret, sent with the
                 activation request (only needed when the executor gets its
                 secret in a way this script cannot see, e.g. from --config)
  --server URL   activate through the web server at URL
                 (crawlctl executor activate ID --server URL) instead of the
                 executor's own /executor?action=activate; this needs an
                 admin's API token in $CRAWLCTL_TOKEN, else the one
                 `crawlctl login` saved for URL ($CRAWLCTL_CA_CERT names a CA
                 to trust for an https URL)
  --no-activate  leave the executor inactive (activate it later with
                 activate-exec.sh or crawlctl executor activate)
  --timeout S    seconds to wait for the executor to answer ping (default 30)
  -h, --help     print this help

Everything after the options (or after --) goes to `crawlctl executor serve`,
e.g. --db mysql://... --port 12321 --name node-3 --cluster-secret-file
/etc/crawlctl/cluster.secret. The executor refuses to start without
authentication: give it --cluster-secret-file FILE (mode 600, the same secret
as the web servers), or set CRAWLCTL_CLUSTER_SECRET_FILE or
CRAWLCTL_CLUSTER_SECRET, or pass --insecure (no authentication; never in
production). A --port-file among those flags replaces DIR/executor.port; a
--bind address other than a wildcard is pinged instead of 127.0.0.1; with
--tls-cert (or CRAWLCTL_TLS_CERT) the executor is reached over https,
without checking its certificate (it is the process just started, on this
machine). The executor's working directory (--work-dir, default
var/executor) is relative to the current directory.

The activation request carries "Authorization: Bearer <cluster secret>",
with the secret taken from, in this order: --secret-file, the
--cluster-secret-file among the executor serve flags,
$CRAWLCTL_CLUSTER_SECRET_FILE, $CRAWLCTL_CLUSTER_SECRET; with none of them
(an --insecure executor) it carries no such header. The header reaches curl
on its standard input (curl -H @-, curl 7.55 or later), never on a command
line, and the secret is never printed.

Refuses to start when DIR/executor.pid names a live process. Exit status: 0
when the executor answers (and is active unless --no-activate), 1 when it
exited, never answered or could not be activated (its log's tail is printed,
and an executor that never answered is stopped), 2 on bad usage.
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

# curl_local ARGS...: curl to the executor just started; over https without
# checking its certificate (it is our own process, on this machine).
curl_local() {
	if [ "$scheme" = https ]; then
		curl -k "$@"
	else
		curl "$@"
	fi
}

# curl_auth ARGS...: curl_local with "Authorization: Bearer <secret>" when
# there is a secret. The header goes to curl on its standard input (-H @-,
# curl >= 7.55) through a here-document written by the shell itself, so the
# secret is on no command line (ps) and in no file.
curl_auth() {
	if [ -n "$secret" ]; then
		curl_local -H @- "$@" <<EOF
Authorization: Bearer $secret
EOF
	else
		curl_local "$@"
	fi
}

bin=
dir=./var/executor
server=
activate=yes
timeout=30
secret_file=
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
	--server)
		[ $# -ge 2 ] || usage_err "--server needs a value"
		server=$2
		shift 2
		;;
	--server=*)
		server=${1#*=}
		shift
		;;
	--no-activate)
		activate=no
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

# Look at the executor serve flags the way the executor will: the last
# --port-file, --bind, --cluster-secret-file and --tls-cert win.
portfile=$dir/executor.port
own_portfile=no
bind=
flag_secret_file=
tls_cert=${CRAWLCTL_TLS_CERT:-}
insecure=no
prev=
for a in "$@"; do
	case $prev in
	--port-file)
		portfile=$a
		own_portfile=yes
		;;
	--bind) bind=$a ;;
	--cluster-secret-file) flag_secret_file=$a ;;
	--tls-cert) tls_cert=$a ;;
	esac
	case $a in
	--port-file=*)
		portfile=${a#--port-file=}
		own_portfile=yes
		;;
	--bind=*) bind=${a#--bind=} ;;
	--cluster-secret-file=*) flag_secret_file=${a#--cluster-secret-file=} ;;
	--tls-cert=*) tls_cert=${a#--tls-cert=} ;;
	--insecure | --insecure=true) insecure=yes ;;
	--insecure=false) insecure=no ;;
	esac
	prev=$a
done
[ -n "$portfile" ] || usage_err "--port-file must not be empty: $prog reads the port from it"
case $bind in
'' | 0.0.0.0 | '::' | '[::]') host=127.0.0.1 ;;
\[*) host=$bind ;;
*:*) host="[$bind]" ;;
*) host=$bind ;;
esac
scheme=http
[ -z "$tls_cert" ] || scheme=https

# The secret for the activation request (none with --server: the web server
# authenticates the CLI by its API token).
secret=
if [ "$activate" = yes ] && [ -z "$server" ]; then
	if [ -n "$secret_file" ]; then
		read_secret "$secret_file"
	elif [ -n "$flag_secret_file" ]; then
		read_secret "$flag_secret_file"
	elif [ -n "${CRAWLCTL_CLUSTER_SECRET_FILE:-}" ]; then
		read_secret "$CRAWLCTL_CLUSTER_SECRET_FILE"
	elif [ -n "${CRAWLCTL_CLUSTER_SECRET:-}" ]; then
		secret=$CRAWLCTL_CLUSTER_SECRET
	fi
fi
if [ "$insecure" = yes ]; then
	echo "$prog: warning: --insecure: the executor accepts work and activation from anyone who reaches its port; never in production" >&2
fi

mkdir -p "$dir" || die "cannot create $dir"
pidfile=$dir/executor.pid
log=$dir/executor.log

if [ -f "$pidfile" ]; then
	old=$(cat "$pidfile" 2>/dev/null || true)
	case $old in
	'' | *[!0-9]*) ;;
	*)
		if alive "$old"; then
			die "already running: $pidfile names live process $old (stop it with shutdown-exec.sh --dir $dir first)"
		fi
		;;
	esac
	rm -f "$pidfile"
fi
# A port file left by a killed executor would point at the wrong port.
rm -f "$portfile"

touch "$log" || die "cannot write $log"
start_line=$(($(wc -l <"$log") + 1))
echo "=== $prog: starting crawlctl executor serve at $(date '+%Y-%m-%dT%H:%M:%S%z')" >>"$log"

# tail_log prints this run's last log lines to stderr.
tail_log() {
	echo "--- last lines of $log:" >&2
	tail -n "+$start_line" "$log" | tail -n 20 >&2
}

if [ "$own_portfile" = yes ]; then
	nohup "$bin" executor serve "$@" </dev/null >>"$log" 2>&1 &
else
	nohup "$bin" executor serve --port-file "$portfile" "$@" </dev/null >>"$log" 2>&1 &
fi
pid=$!
echo "$pid" >"$pidfile"

port=
deadline=$(($(date +%s) + timeout))
while :; do
	if ! alive "$pid"; then
		status=0
		wait "$pid" || status=$?
		rm -f "$pidfile"
		echo "$prog: crawlctl executor serve exited with status $status before answering ping" >&2
		tail_log
		exit 1
	fi
	if [ -s "$portfile" ]; then
		port=$(cat "$portfile" 2>/dev/null || true)
		case $port in
		'' | *[!0-9]*) port= ;;
		*)
			reply=$(curl_local -fsS -m 2 "$scheme://$host:$port/executor?action=ping" 2>/dev/null || true)
			case $reply in
			*alive*) break ;;
			esac
			;;
		esac
	fi
	if [ "$(date +%s)" -gt "$deadline" ]; then
		kill "$pid" 2>/dev/null || true
		rm -f "$pidfile"
		if [ -z "$port" ]; then
			echo "$prog: crawlctl executor serve (pid $pid) wrote no port to $portfile within ${timeout}s; stopped it" >&2
		else
			echo "$prog: crawlctl executor serve (pid $pid) did not answer ping on $scheme://$host:$port within ${timeout}s; stopped it" >&2
		fi
		tail_log
		exit 1
	fi
	nap
done

nl='
'
if [ "$activate" = yes ]; then
	if [ -n "$server" ]; then
		info=$(curl_local -fsS -m 5 "$scheme://$host:$port/executor?action=getStatus" 2>&1) ||
			die "executor on port $port did not answer getStatus: $info"
		id=$(printf '%s\n' "$info" | sed -n 's/.*"executor_id":"\{0,1\}\([0-9][0-9]*\).*/\1/p')
		[ -n "$id" ] || die "executor on port $port gave no executor_id in getStatus: $info"
		"$bin" executor activate "$id" --server "$server" -q ||
			die "crawlctl executor activate $id --server $server failed (exit $?): it needs an admin's API token in CRAWLCTL_TOKEN (or saved by crawlctl login --server $server); the executor (pid $pid, port $port) runs inactive"
	else
		# The reply's last line is the HTTP status (curl -w); on a failure
		# that line is 000 and is dropped from the message.
		rc=0
		out=$(curl_auth -sS -m 5 -w '\n%{http_code}' "$scheme://$host:$port/executor?action=activate" 2>&1) || rc=$?
		if [ "$rc" -ne 0 ]; then
			die "activation failed: $(printf '%s\n' "$out" | sed '/^000$/d'); the executor (pid $pid, port $port) runs inactive"
		fi
		code=${out##*"$nl"}
		reply=${out%"$nl"*}
		case $code in
		401)
			if [ -n "$secret" ]; then
				die "activation unauthorized: the executor rejected the cluster secret (give the one it runs with: --secret-file, --cluster-secret-file, CRAWLCTL_CLUSTER_SECRET_FILE or CRAWLCTL_CLUSTER_SECRET); the executor (pid $pid, port $port) runs inactive"
			fi
			die "activation unauthorized: the executor needs the cluster secret (give it with --secret-file, --cluster-secret-file, CRAWLCTL_CLUSTER_SECRET_FILE or CRAWLCTL_CLUSTER_SECRET); the executor (pid $pid, port $port) runs inactive"
			;;
		2??) ;;
		*) die "activation failed: HTTP $code: $reply; the executor (pid $pid, port $port) runs inactive" ;;
		esac
		case $reply in
		*'"success"'*) ;;
		*) die "activation failed: $reply; the executor (pid $pid, port $port) runs inactive" ;;
		esac
	fi
	echo "$prog: crawlctl executor serve started and activated: pid $pid, port $port, log $log" >&2
else
	echo "$prog: crawlctl executor serve started (inactive): pid $pid, port $port, log $log" >&2
fi
echo "$port"
