package submission

import (
	"slices"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/labels"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// Flow config keys read at submit (Azkaban's names where Azkaban has one).
const (
	// KeyLabels is the label selector a flow requires of its executor:
	// "region=eu,gpu=true" (a Flow 2.0 file may give a map).
	KeyLabels        = "executor.labels"
	keyFailureEmails = "failure.emails"
	keySuccessEmails = "success.emails"
	keyNotifyEmails  = "notify.emails"
)

// flowSetting returns key of f: its flow config, else (legacy flows, whose
// settings live in .job and .properties files) the config of the job named
// after the flow, its last job.
func flowSetting(f *flow.Flow, key string) string {
	if v, ok := f.Config[key]; ok {
		return v
	}
	for _, n := range f.Nodes {
		if n.Name == f.Name {
			return n.Config[key]
		}
	}
	return ""
}

// effectiveSelector is the flow's executor.labels with the submit's
// selector on top (a key given at submit wins), and an executor.labels
// parameter (Azkaban's flowOverride[executor.labels], --param) on top of
// both.
func effectiveSelector(f *flow.Flow, submitted map[string]string, params map[string]string) (map[string]string, error) {
	base, err := labels.Parse(flowSetting(f, KeyLabels))
	if err != nil {
		return nil, &InputError{Msg: "flow " + f.Name + ": bad " + KeyLabels + ": " + err.Error()}
	}
	sel := labels.Merge(base, submitted)
	if v, ok := params[KeyLabels]; ok {
		over, err := labels.Parse(v)
		if err != nil {
			return nil, &InputError{Msg: "bad " + KeyLabels + " parameter: " + err.Error()}
		}
		sel = labels.Merge(sel, over)
	}
	if len(labels.String(sel)) > 2048 {
		return nil, &InputError{Msg: "selector too long: at most 2048 characters as k=v,..."}
	}
	return sel, nil
}

// mergeRecipients adds the flow's failure.emails, success.emails and
// notify.emails (both) to the recipients given at submit, without
// duplicates, unless the submit's list is the whole list (Azkaban's
// ...EmailsOverride=true).
func mergeRecipients(f *flow.Flow, a store.Alerts) store.Alerts {
	notify := splitEmails(flowSetting(f, keyNotifyEmails))
	if a.FailureOverride {
		a.FailureEmails = union(a.FailureEmails)
	} else {
		a.FailureEmails = union(a.FailureEmails, splitEmails(flowSetting(f, keyFailureEmails)), notify)
	}
	if a.SuccessOverride {
		a.SuccessEmails = union(a.SuccessEmails)
	} else {
		a.SuccessEmails = union(a.SuccessEmails, splitEmails(flowSetting(f, keySuccessEmails)), notify)
	}
	return a
}

// splitEmails reads Azkaban's comma (or semicolon, or space) separated
// address lists.
func splitEmails(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' })
}

func union(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, v := range l {
			v = strings.TrimSpace(v)
			if v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}
