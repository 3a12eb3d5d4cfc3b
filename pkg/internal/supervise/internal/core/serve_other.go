//go:build !linux

package core

// Serve is not available without /proc.
func Serve(args []string) int {
	println("crawlctl " + Name + ": -serve needs Linux")
	return 2
}
