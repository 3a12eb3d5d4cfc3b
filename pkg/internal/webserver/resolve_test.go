package webserver

import (
	"errors"
	"strings"
	"testing"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

func TestResolveExecutor(t *testing.T) {
	list := []*store.Executor{
		{ID: 1, Name: "node-1", Host: "10.0.0.1", Port: 12321},
		{ID: 2, Name: "node-2", Host: "10.0.0.1", Port: 12322},
		{ID: 3, Name: "twin", Host: "10.0.0.3", Port: 12321},
		{ID: 4, Name: "twin", Host: "10.0.0.4", Port: 12321},
		{ID: 12, Name: "3", Host: "10.0.0.5", Port: 1},
	}
	cases := []struct {
		ref        string
		want       int64
		candidates int
	}{
		{"2", 2, 0},
		{"10.0.0.1:12322", 2, 0},
		{"node-1", 1, 0},
		{"10.0.0.3", 3, 0},
		{"3", 3, 0}, // an id wins over a name
		{"10.0.0.1", 0, 2},
		{"twin", 0, 2},
		{"nope", 0, 0},
	}
	for _, tc := range cases {
		e, err := ResolveExecutor(list, tc.ref)
		if tc.want != 0 {
			if err != nil || e.ID != tc.want {
				t.Errorf("%q: got %v, %v; want id %d", tc.ref, e, err, tc.want)
			}
			continue
		}
		var re *RefError
		if !errors.As(err, &re) || len(re.Candidates) != tc.candidates {
			t.Errorf("%q: err %v; want RefError with %d candidates", tc.ref, err, tc.candidates)
			continue
		}
		if tc.candidates > 0 && !strings.Contains(re.Error(), "ambiguous") {
			t.Errorf("%q: %s", tc.ref, re.Error())
		}
	}
}
