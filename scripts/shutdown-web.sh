#!/bin/sh
# shutdown-web.sh - stop a web server started by start-web.sh, gracefully.
# Run `shutdown-web.sh --help` for the options. It is shutdown-exec.sh, run
# for a web server (DIR/web.pid, default ./var/web).
set -eu

crawlctl_shutdown_kind=web exec "$(dirname "$0")/shutdown-exec.sh" "$@"
