//go:build !linux

package supervise

import "errors"

// startServer: a serving supervisor needs Linux (Pool.Start does not ask).
func startServer(path string, o Options) (*server, error) {
	return nil, errors.New("a serving job supervisor needs Linux")
}
