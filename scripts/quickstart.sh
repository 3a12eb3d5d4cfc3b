#!/bin/sh
# usage: quickstart.sh [--bin PATH] [--data-dir DIR] [--listen ADDR]
#
# What `make run` does: start `crawlctl solo` (web server and one executor on
# an embedded SQLite file), upload the example project in
# configs/examples/hello-crawl, run its flow once and show the result, then
# keep serving until Ctrl-C. It talks only to the solo it started, with that
# solo's own admin token (DATA-DIR/admin.token), whatever CRAWLCTL_* says;
# it stops at the first failure. `make run SOLO_LISTEN=127.0.0.1:8082` (or
# --listen) when port 8081 is taken.
set -eu

bin=bin/crawlctl
data=var/solo
listen=127.0.0.1:8081
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --bin) bin=$2; shift 2 ;;
    --data-dir) data=$2; shift 2 ;;
    --listen) listen=$2; shift 2 ;;
    *) echo "quickstart.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# Only the solo started here counts: none of the caller's CRAWLCTL_* settings
# (another server, another token, a config file) may redirect a command.
had_token=${CRAWLCTL_TOKEN:+yes}
for v in $(env | sed -n 's/^\(CRAWLCTL_[A-Za-z0-9_]*\)=.*/\1/p'); do
  unset "$v"
done

server="http://$listen"
token="$data/admin.token"
cc() { "$bin" "$@" --server "$server" --token-file "$token"; }

mkdir -p "$data"
"$bin" solo --data-dir "$data" --listen "$listen" --log-format console --log-level warn -q &
pid=$!
# Stop solo when this script ends early (a failure, Ctrl-C); the last step
# waits for it instead.
trap 'kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
trap 'exit 0' INT TERM

i=0
# Ready when our solo answers with its own token: another server on the same
# address does not know that token.
until cc executor list -q >/dev/null 2>&1; do
  i=$((i + 1))
  if ! kill -0 "$pid" 2>/dev/null; then
    rc=0
    wait "$pid" || rc=$?
    trap - EXIT
    if "$bin" executor list --server "$server" -q >/dev/null 2>&1 || [ $? -ne 3 ]; then
      echo "quickstart.sh: something else already listens on $listen: stop it, or run \`make run SOLO_LISTEN=127.0.0.1:8082\` (scripts/quickstart.sh --listen 127.0.0.1:8082)" >&2
    else
      echo "quickstart.sh: crawlctl solo exited (exit $rc); see its message above" >&2
    fi
    exit 1
  fi
  if [ "$i" -gt 150 ]; then
    echo "quickstart.sh: crawlctl solo did not answer on $server within 30s; stopping it" >&2
    exit 1
  fi
  sleep 0.2
done

# fail WHAT: a step of the tour failed; stop (the EXIT trap stops solo).
fail() {
  echo "quickstart.sh: \`crawlctl $1\` failed (see above); stopping crawlctl solo" >&2
  exit 1
}

echo
echo "==> crawlctl project upload configs/examples/hello-crawl"
cc project upload configs/examples/hello-crawl || fail "project upload"
echo
echo "==> crawlctl flow run hello-crawl crawl"
id=$(cc flow run hello-crawl crawl) || fail "flow run"
echo "$id"
echo
echo "==> crawlctl exec wait $id"
cc exec wait "$id" || true  # a failed flow is shown below, not a reason to stop
echo
echo "==> crawlctl exec show $id"
cc exec show "$id" || fail "exec show"
echo
echo "==> crawlctl exec logs $id --job crawl_news"
"$bin" exec logs "$id" --job crawl_news --server "$server" --token-file "$token" || fail "exec logs"

opt=
[ "$listen" = 127.0.0.1:8081 ] || opt=" --server $server"
cat <<EOT

crawlctl solo keeps running on $server (data in $data, admin token in $token).
Try, in another terminal:
  $bin$opt executor list
  $bin$opt flow run hello-crawl crawl --param site=example.net --wait
  $bin$opt exec logs $id
  $bin$opt project upload configs/examples/hello-legacy && $bin$opt flow run hello-legacy etl --wait
EOT
if [ -n "$had_token" ]; then
  echo "  (CRAWLCTL_TOKEN, set in your shell, wins over solo's saved token: unset it, or add --token-file $token)"
fi
echo "Ctrl-C stops it."
wait "$pid"
