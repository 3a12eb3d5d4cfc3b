package submission

import (
	"reflect"
	"testing"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

func TestRecipientsAndSelector(t *testing.T) {
	f := &flow.Flow{Name: "f", Config: map[string]string{"failure.emails": "a@x, b@x", "success.emails": "s@x", "notify.emails": "n@x;a@x",
		"executor.labels": "region=eu,gpu=true"}}
	got := mergeRecipients(f, store.Alerts{FailureEmails: []string{"cli@x", "a@x"}})
	if !reflect.DeepEqual(got.FailureEmails, []string{"cli@x", "a@x", "b@x", "n@x"}) || !reflect.DeepEqual(got.SuccessEmails, []string{"s@x", "n@x", "a@x"}) {
		t.Fatalf("merged %+v", got)
	}
	got = mergeRecipients(f, store.Alerts{FailureEmails: []string{"only@x"}, FailureOverride: true, SuccessOverride: true})
	if !reflect.DeepEqual(got.FailureEmails, []string{"only@x"}) || len(got.SuccessEmails) != 0 {
		t.Fatalf("override %+v", got)
	}
	// Legacy flows keep their settings in the job named after the flow.
	legacy := &flow.Flow{Name: "end", Nodes: []*flow.Node{{Name: "start", Config: map[string]string{"failure.emails": "no@x"}},
		{Name: "end", Config: map[string]string{"failure.emails": "yes@x", "executor.labels": "zone=a"}}}}
	if got := mergeRecipients(legacy, store.Alerts{}); !reflect.DeepEqual(got.FailureEmails, []string{"yes@x"}) {
		t.Fatalf("legacy %+v", got)
	}
	sel, err := effectiveSelector(f, map[string]string{"region": "us"}, map[string]string{"executor.labels": "tier=1"})
	if err != nil || !reflect.DeepEqual(sel, map[string]string{"region": "us", "gpu": "true", "tier": "1"}) {
		t.Fatalf("selector %v %v", sel, err)
	}
	if sel, _ := effectiveSelector(legacy, nil, nil); sel["zone"] != "a" {
		t.Fatalf("legacy selector %v", sel)
	}
	if _, err := effectiveSelector(&flow.Flow{Name: "bad", Config: map[string]string{"executor.labels": "nokey"}}, nil, nil); err == nil {
		t.Fatal("bad selector accepted")
	}
}
