//go:build !linux

package core

// MarkerVar: see the Linux version; serving needs /proc.
const MarkerVar = "JOB_RUN_ID"

// Serve is not available without /proc.
func Serve(args []string) int {
	println("crawlctl " + Name + ": -serve needs Linux")
	return 2
}
