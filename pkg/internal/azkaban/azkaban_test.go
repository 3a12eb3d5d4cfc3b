package azkaban

import (
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

func TestSessionsLastTenHoursByDefault(t *testing.T) {
	if DefaultSessionIdle != 10*time.Hour {
		t.Fatalf("DefaultSessionIdle = %s, want Azkaban's 10h", DefaultSessionIdle)
	}
	if a := New(Config{}, Backend{}, zerolog.Nop()); a.cfg.SessionIdle != 10*time.Hour {
		t.Fatalf("an API configured without an expiry uses %s", a.cfg.SessionIdle)
	}
	if a := New(Config{SessionIdle: 2 * time.Second}, Backend{}, zerolog.Nop()); a.cfg.SessionIdle != 2*time.Second {
		t.Fatalf("a configured expiry is not kept: %s", a.cfg.SessionIdle)
	}
}

func TestAzkabanOptionForms(t *testing.T) {
	got, err := disabledPaths([]any{"b", map[string]any{"id": "ef", "children": []any{"x", map[string]any{"id": "inner", "children": []any{"y"}}}}, map[string]any{"id": "whole"}}, "")
	if want := []string{"b", "ef:inner:y", "ef:x", "whole"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("disabled paths %v %v, want %v", got, err, want)
	}
	if _, err := disabledPaths([]any{3.0}, ""); err == nil {
		t.Fatal("a number is not a job name")
	}
	if got := splitEmails(" a@x, b@x;c@x  d@x "); !reflect.DeepEqual(got, []string{"a@x", "b@x", "c@x", "d@x"}) {
		t.Fatalf("e-mails split as %q", got)
	}
	for _, tc := range []struct {
		in     store.Execution
		status string
	}{
		{store.Execution{Status: "QUEUED"}, "QUEUED"}, {store.Execution{Status: "DISPATCHING"}, "PREPARING"}, {store.Execution{Status: "RUNNING"}, "RUNNING"},
		{store.Execution{Status: "RUNNING", Paused: true}, "PAUSED"}, {store.Execution{Status: "KILLING", Paused: true}, "KILLING"}, {store.Execution{Status: "KILLED"}, "KILLED"},
	} {
		if got := execStatus(&tc.in); got != tc.status {
			t.Errorf("%+v shows as %s, want %s", tc.in, got, tc.status)
		}
	}
	if got := htmlEscape.Replace(`a<b>&"c'`); got != `a&lt;b&gt;&amp;&quot;c'` {
		t.Fatalf("log escaping: %s", got)
	}
	if id := newSessionID(); len(id) != 36 || id[14] != '4' {
		t.Fatalf("session id %q is not a UUID v4", id)
	}
}
