package client

import (
	"context"
	"net"
	"time"
)

// netDialer bounds connection set-up (--connect-timeout) without bounding the
// whole request, so long waits on the server still work.
type netDialer struct{ timeout time.Duration }

func (d *netDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	t := d.timeout
	if t <= 0 {
		t = 10 * time.Second
	}
	return (&net.Dialer{Timeout: t, KeepAlive: 30 * time.Second}).DialContext(ctx, network, addr)
}
