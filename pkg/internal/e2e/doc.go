// Package e2e holds crawlctl's end-to-end tests: they build the real binary
// and run web servers, executors and the CLI as processes on loopback ports
// against a fresh database (see pkg/testcluster).
package e2e
