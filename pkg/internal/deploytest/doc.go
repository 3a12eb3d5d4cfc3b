// Package deploytest checks the deployment files in scripts/ and configs/:
// they parse, and every crawlctl flag they use exists.
//
// Its tests build crawlctl once, then: parse every YAML file under configs/
// (all documents) and the systemd units (systemd-analyze verify where it is
// installed); run shellcheck on every script; ask `crawlctl ... --help` about
// every flag the units, Kubernetes manifests, Dockerfile, example config and
// scripts pass to crawlctl, including the authentication and TLS flags
// (--cluster-secret-file, --insecure, --tls-cert, --tls-key,
// --executor-ca-cert, --ca-cert); check that the cluster secret and its
// Authorization header never appear in a program's arguments (curl reads the
// header on its standard input); and drive start-web.sh, start-exec.sh,
// activate-exec.sh, shutdown-exec.sh and the units' and manifests'
// activation hooks against a real web server and executors on a SQLite
// database that share a cluster secret, with the first admin created by
// `crawlctl user add --db` and the CLI using its token (CRAWLCTL_TOKEN, with
// XDG_CONFIG_HOME in a temporary directory). Nothing the scripts print, and
// nothing the daemons log, may contain the secret. The package has no
// non-test code.
package deploytest
