// Package submission turns "run flow F of project P with these parameters"
// into a store.NewExecution: it loads the project's latest version, checks
// the flow exists and reads the flow's retry budget. The REST submit handler
// and the scheduler both use it, so a scheduled run and a manual one are
// validated the same way.
package submission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// InputError is a submission that names something that does not exist
// (NotFound: it then matches store.ErrNotFound) or carries a bad value;
// callers report it as the user's mistake.
type InputError struct {
	Msg      string
	NotFound bool
}

func (e *InputError) Error() string { return e.Msg }

func (e *InputError) Unwrap() error {
	if e.NotFound {
		return store.ErrNotFound
	}
	return nil
}

// Request is what to run.
type Request struct {
	Project, Flow string
	Params        map[string]string
	Concurrent    string // skip, ignore, queue; "" = ignore
	FailureAction string // "" = finishCurrent
	Priority      int
	User          string
	// Disabled names jobs (by path, e.g. "ef:job") that end SKIPPED
	// instead of running; each must exist in the flow.
	Disabled []string
	Alerts   store.Alerts
	// Selector is the labels the executor must have, on top of the flow's
	// executor.labels.
	Selector map[string]string
}

var failureActions = map[string]bool{"finishCurrent": true, "cancelImmediately": true, "finishPossible": true}

// Prepare validates r against the project's latest version and returns the
// execution to submit.
func Prepare(ctx context.Context, st *store.Store, r Request) (store.NewExecution, error) {
	if r.Concurrent == "" {
		r.Concurrent = "ignore"
	}
	if r.Concurrent != "skip" && r.Concurrent != "ignore" && r.Concurrent != "queue" {
		return store.NewExecution{}, &InputError{Msg: fmt.Sprintf("bad concurrent option %q: use skip, ignore or queue", r.Concurrent)}
	}
	if r.FailureAction == "" {
		r.FailureAction = "finishCurrent"
	}
	if !failureActions[r.FailureAction] {
		return store.NewExecution{}, &InputError{Msg: fmt.Sprintf("bad failure action %q: use finishCurrent, cancelImmediately or finishPossible", r.FailureAction)}
	}
	for k := range r.Params {
		if strings.TrimSpace(k) == "" {
			return store.NewExecution{}, &InputError{Msg: "bad parameter: empty name"}
		}
	}
	if err := CheckParams(r.Params); err != nil {
		return store.NewExecution{}, err
	}
	if r.Priority < math.MinInt32 || r.Priority > math.MaxInt32 {
		return store.NewExecution{}, &InputError{Msg: fmt.Sprintf("bad priority %d: use a whole number between %d and %d", r.Priority, math.MinInt32, math.MaxInt32)}
	}
	proj, pv, err := Load(ctx, st, r.Project, 0)
	if err != nil {
		return store.NewExecution{}, err
	}
	f := proj.Flow(r.Flow)
	if f == nil {
		return store.NewExecution{}, &InputError{Msg: fmt.Sprintf("project %q has no flow %q (flows: %s)", r.Project, r.Flow, strings.Join(proj.FlowNames(), ", ")), NotFound: true}
	}
	if err := checkDisabled(f, r.Disabled); err != nil {
		return store.NewExecution{}, err
	}
	if err := checkEmails(r.Alerts); err != nil {
		return store.NewExecution{}, err
	}
	retries := 0
	if v, ok := r.Params["flow.retries"]; ok {
		retries, err = strconv.Atoi(v)
	} else if v, ok := f.Config["flow.retries"]; ok {
		retries, err = strconv.Atoi(v)
	}
	if err != nil || retries < 0 {
		return store.NewExecution{}, &InputError{Msg: "bad flow.retries: must be a whole number >= 0"}
	}
	sel, err := effectiveSelector(f, r.Selector, r.Params)
	if err != nil {
		return store.NewExecution{}, err
	}
	alerts := mergeRecipients(f, r.Alerts)
	if len(strings.Join(alerts.FailureEmails, ",")) > 2048 || len(strings.Join(alerts.SuccessEmails, ",")) > 2048 {
		return store.NewExecution{}, &InputError{Msg: "too many alert recipients: at most 2048 characters of addresses each for failure and success"}
	}
	return store.NewExecution{
		ProjectID: pv.ProjectID, Project: pv.Project, Version: pv.Version, Flow: f.Name, Params: r.Params,
		Priority: r.Priority, Concurrent: r.Concurrent, FailureAction: r.FailureAction, FlowRetries: retries, SubmitUser: r.User,
		Disabled: r.Disabled, Alerts: alerts, Selector: sel,
	}, nil
}

// CheckParams refuses parameters that take more room, stored as JSON, than
// the database keeps (store.MaxText).
func CheckParams(params map[string]string) error {
	b, err := json.Marshal(params)
	if err != nil {
		return &InputError{Msg: "bad parameters: " + err.Error()}
	}
	if len(b) > store.MaxText {
		return &InputError{Msg: fmt.Sprintf("parameters too large: %d bytes as JSON, the limit is %d (64 KiB)", len(b), store.MaxText)}
	}
	return nil
}

// checkDisabled refuses disabled job paths that are not in the flow.
func checkDisabled(f *flow.Flow, disabled []string) error {
	if len(disabled) == 0 {
		return nil
	}
	known := map[string]bool{}
	var names []string
	f.Walk(func(path string, _ *flow.Node) { known[path] = true; names = append(names, path) })
	for _, d := range disabled {
		if !known[d] {
			return &InputError{Msg: fmt.Sprintf("cannot disable %q: flow %q has no such job (jobs: %s)", d, f.Name, strings.Join(names, ", "))}
		}
	}
	return nil
}

// maxEmails is the room for one list of e-mail addresses, joined by commas.
const maxEmails = 2048

// checkEmails refuses e-mail lists that cannot be stored as they are: an
// entry must be one address (not empty, no comma, semicolon or white
// space; lists are separate entries). Addresses are not checked further:
// Azkaban flows may carry whatever their config says.
func checkEmails(a store.Alerts) error {
	for _, l := range []struct {
		kind string
		list []string
	}{{"success", a.SuccessEmails}, {"failure", a.FailureEmails}} {
		for _, e := range l.list {
			if e == "" || strings.ContainsAny(e, ",; \t\r\n") {
				return &InputError{Msg: fmt.Sprintf("bad %s e-mail address %q: give one address per entry, like ops@example.com", l.kind, e)}
			}
		}
		if n := len(strings.Join(l.list, ",")); n > maxEmails {
			return &InputError{Msg: fmt.Sprintf("too many %s e-mail addresses: %d bytes joined by commas, the limit is %d", l.kind, n, maxEmails)}
		}
	}
	return nil
}

// Load returns the parsed flows of a project version (0 = latest); an
// unknown project is an *InputError.
func Load(ctx context.Context, st *store.Store, project string, version int) (*flow.Project, *store.ProjectVersion, error) {
	pv, err := st.GetProjectVersion(ctx, project, version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, &InputError{Msg: fmt.Sprintf("no project %q (see `crawlctl project list`)", project), NotFound: true}
	}
	if err != nil {
		return nil, nil, err
	}
	proj, err := flow.Decode(pv.Flows)
	if err != nil {
		return nil, nil, fmt.Errorf("stored flows of %s version %d: %w", project, pv.Version, err)
	}
	return proj, pv, nil
}
