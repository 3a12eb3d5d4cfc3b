package azkaban

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// options are Azkaban's execution options of executeFlow and
// scheduleCronFlow, read into crawlctl's terms.
type options struct {
	params        map[string]string
	concurrent    string // skip (Azkaban's default), ignore or queue
	failureAction string
	disabled      []string
	alerts        store.Alerts
	// Admin only (dropped silently for others, as Azkaban does).
	useExecutor int64
	priority    int
}

// emailSplit is how Azkaban splits an e-mail list.
var emailSplit = regexp.MustCompile(`\s*,\s*|\s*;\s*|\s+`)

func splitEmails(s string) []string {
	var out []string
	for _, e := range emailSplit.Split(strings.TrimSpace(s), -1) {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// paramGroup returns the parameters named prefix[key] (Azkaban's
// getParamGroup), keyed by what is between the brackets.
func (r *request) paramGroup(prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range r.Form {
		if strings.HasPrefix(k, prefix+"[") && strings.HasSuffix(k, "]") && len(v) > 0 {
			out[k[len(prefix)+1:len(k)-1]] = v[0]
		}
	}
	return out
}

// parseOptions reads the execution options of r for flow f. The error is
// the text after Azkaban's "Error parsing flow options: ".
func parseOptions(r *request, f *flow.Flow) (options, error) {
	o := options{params: r.paramGroup("flowOverride"), concurrent: "skip"}
	runtime := r.paramGroup("runtimeProperty")
	if len(runtime) > 0 {
		if len(o.params) > 0 {
			return o, fmt.Errorf("give flowOverride[...] or runtimeProperty[...][...], not both")
		}
		for k, v := range runtime {
			node, key, ok := strings.Cut(k, "][")
			if !ok || key == "" {
				return o, fmt.Errorf("bad parameter runtimeProperty[%s]: use runtimeProperty[ROOT][name]", k)
			}
			if node != "ROOT" {
				return o, fmt.Errorf("runtimeProperty[%s][%s]: properties of a single job are not supported; crawlctl takes flow-level ones only (runtimeProperty[ROOT][name] or flowOverride[name])", node, key)
			}
			o.params[key] = v
		}
	}
	// Azkaban's admin-only flow parameters.
	for _, k := range []string{"useExecutor", "flowPriority"} {
		if v, ok := o.params[k]; ok {
			delete(o.params, k)
			if !r.has(k) {
				r.Form.Set(k, v)
			}
		}
	}
	if r.who.has(permAdmin) {
		if v := r.param("useExecutor"); v != "" {
			id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || id <= 0 {
				return o, fmt.Errorf("useExecutor must be an executor id, not %q", v)
			}
			o.useExecutor = id
		}
		if v := r.param("flowPriority"); v != "" {
			p, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return o, fmt.Errorf("flowPriority must be a whole number, not %q", v)
			}
			o.priority = p
		}
	}

	if r.has("concurrentOption") {
		switch c := r.param("concurrentOption"); c {
		case "skip", "ignore", "queue":
			o.concurrent = c
		case "pipeline":
			return o, fmt.Errorf("concurrentOption=pipeline is not supported: crawlctl cannot hold a run's jobs back until the same jobs of the previous run have finished; use skip, ignore or queue")
		default:
			return o, fmt.Errorf("bad concurrentOption %q: use skip, ignore or queue", c)
		}
	}
	if r.has("failureAction") {
		switch fa := r.param("failureAction"); fa {
		case "finishCurrent", "cancelImmediately", "finishPossible":
			o.failureAction = fa
		default:
			return o, fmt.Errorf("bad failureAction %q: use finishCurrent, cancelImmediately or finishPossible", fa)
		}
	}
	if d := r.param("disabled"); d != "" {
		var list []any
		if err := json.Unmarshal([]byte(d), &list); err != nil {
			return o, fmt.Errorf("disabled must be a JSON array of job names: %v", err)
		}
		paths, err := disabledPaths(list, "")
		if err != nil {
			return o, err
		}
		o.disabled = paths
	}
	// As in Azkaban, e-mails given without ...Override=true give way to the
	// flow's own (success.emails, failure.emails in its config).
	o.alerts.SuccessEmails = emails(r, f, "success")
	o.alerts.FailureEmails = emails(r, f, "failure")
	o.alerts.SuccessOverride, _ = strconv.ParseBool(r.param("successEmailsOverride"))
	o.alerts.FailureOverride, _ = strconv.ParseBool(r.param("failureEmailsOverride"))
	o.alerts.NotifyFailureFirst, _ = strconv.ParseBool(r.param("notifyFailureFirst"))
	o.alerts.NotifyFailureLast, _ = strconv.ParseBool(r.param("notifyFailureLast"))
	return o, nil
}

// emails is the success or failure list of an execution.
func emails(r *request, f *flow.Flow, kind string) []string {
	if override, _ := strconv.ParseBool(r.param(kind + "EmailsOverride")); override {
		return splitEmails(r.param(kind + "Emails"))
	}
	return splitEmails(f.Config[kind+".emails"])
}

// disabledPaths flattens Azkaban's disabled list (job names, or objects
// {"id": embedded flow, "children": [...]}) into job paths.
func disabledPaths(list []any, prefix string) ([]string, error) {
	var out []string
	for _, item := range list {
		switch v := item.(type) {
		case string:
			out = append(out, prefix+v)
		case map[string]any:
			id, _ := v["id"].(string)
			if id == "" {
				return nil, fmt.Errorf("disabled: an object needs an \"id\"")
			}
			children, _ := v["children"].([]any)
			if len(children) == 0 {
				out = append(out, prefix+id)
				continue
			}
			sub, err := disabledPaths(children, prefix+id+":")
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		default:
			return nil, fmt.Errorf("disabled: %v is neither a job name nor an object", item)
		}
	}
	sort.Strings(out)
	return out, nil
}

// azkabanFailureAction is Azkaban's enum name of a failure action.
func azkabanFailureAction(fa string) string {
	switch fa {
	case "cancelImmediately":
		return "CANCEL_ALL"
	case "finishPossible":
		return "FINISH_ALL_POSSIBLE"
	default:
		return "FINISH_CURRENTLY_RUNNING"
	}
}
