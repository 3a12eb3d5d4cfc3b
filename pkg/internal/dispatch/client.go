package dispatch

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"time"
)

// ExecutorClient calls executors' servlets, with the cluster secret. The
// dispatcher's nudges and the web server's cancel calls both use one.
type ExecutorClient struct {
	http   *http.Client
	secret string
}

// NewExecutorClient makes a client whose calls take at most timeout, trust
// tlsConf for executors serving HTTPS and carry secret ("" = none). Calls
// never go through a proxy: executors are the cluster's own addresses.
func NewExecutorClient(timeout time.Duration, tlsConf *tls.Config, secret string) *ExecutorClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 16
	tr.IdleConnTimeout = time.Minute
	tr.TLSClientConfig = tlsConf
	return &ExecutorClient{http: &http.Client{Timeout: timeout, Transport: tr}, secret: secret}
}

// Post calls the servlet of the executor at addr (host:port), over HTTPS
// when useTLS, with the query q.
func (c *ExecutorClient) Post(ctx context.Context, addr string, useTLS bool, q url.Values) (*http.Response, error) {
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: addr, Path: "/executor", RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if c.secret != "" {
		req.Header.Set("Authorization", "Bearer "+c.secret)
	}
	return c.http.Do(req)
}
