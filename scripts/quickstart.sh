#!/bin/sh
# usage: quickstart.sh [--bin PATH] [--data-dir DIR] [--listen ADDR]
#
# What `make run` does: start `crawlctl solo` (web server and one executor on
# an embedded SQLite file), upload the example project in
# configs/examples/hello-crawl, run its flow once and show the result, then
# keep serving until Ctrl-C.
set -eu

bin=bin/crawlctl
data=var/solo
listen=127.0.0.1:8081
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --bin) bin=$2; shift 2 ;;
    --data-dir) data=$2; shift 2 ;;
    --listen) listen=$2; shift 2 ;;
    *) echo "quickstart.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "$data"
"$bin" solo --data-dir "$data" --listen "$listen" --log-format console --log-level warn &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null; wait "$pid"; exit 0' INT TERM

server="http://$listen"
i=0
until "$bin" executor list --server "$server" -q >/dev/null 2>&1; do
  i=$((i + 1))
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "quickstart.sh: crawlctl solo exited; see the messages above" >&2
    exit 1
  fi
  if [ "$i" -gt 100 ]; then
    echo "quickstart.sh: crawlctl solo did not answer on $server within 20s" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
  fi
  sleep 0.2
done

export CRAWLCTL_SERVER="$server"
echo
echo "==> crawlctl project upload configs/examples/hello-crawl"
"$bin" project upload configs/examples/hello-crawl
echo
echo "==> crawlctl flow run hello-crawl crawl --wait"
"$bin" flow run hello-crawl crawl --wait || true
id=$("$bin" exec list --project hello-crawl --limit 1 -o json | sed -n 's/^    "id": \([0-9]*\),$/\1/p' | head -n 1)
echo
echo "==> crawlctl exec show $id"
"$bin" exec show "$id"
echo
echo "==> crawlctl exec logs $id --job crawl_news"
"$bin" exec logs "$id" --job crawl_news
cat <<EOT

crawlctl solo keeps running on $server. Try, in another terminal:
  export CRAWLCTL_SERVER=$server
  $bin executor list
  $bin flow run hello-crawl crawl --param site=example.net --wait
  $bin exec logs $id
Ctrl-C stops it.
EOT
wait "$pid"
