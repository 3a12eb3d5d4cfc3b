package dispatch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestExecutorClientPost(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	resp, err := NewExecutorClient(time.Second, nil, "s3cret").Post(context.Background(), addr, false, url.Values{"action": {"refresh"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Method != http.MethodPost || got.URL.Path != "/executor" || got.URL.Query().Get("action") != "refresh" || got.Header.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("request %s %s, auth %q", got.Method, got.URL, got.Header.Get("Authorization"))
	}
	resp, err = NewExecutorClient(time.Second, nil, "").Post(context.Background(), addr, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := got.Header.Get("Authorization"); a != "" {
		t.Errorf("no secret, yet Authorization %q", a)
	}
}
