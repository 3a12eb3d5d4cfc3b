// Package deploytest checks the deployment files in scripts/ and configs/:
// they parse, and every crawlctl flag they use exists.
//
// Its tests build crawlctl once, then: parse every YAML file under configs/
// (all documents) and the systemd units (systemd-analyze verify where it is
// installed); run shellcheck on every script; ask `crawlctl ... --help` about
// every flag the units, Kubernetes manifests, Dockerfile, example config and
// scripts pass to crawlctl; and drive start-web.sh, start-exec.sh,
// activate-exec.sh and shutdown-exec.sh against a real web server and
// executors on a SQLite database. The package has no non-test code.
package deploytest
