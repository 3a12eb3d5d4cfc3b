package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Job configuration keys.
const (
	keyCommand      = "command"
	keyWorkingDir   = "working.dir"
	keyRetries      = "retries"
	keyRetryBackoff = "retry.backoff"
	keyTimeout      = "timeout"
	envPrefix       = "env."
)

// errTimeout is the cancellation cause of an attempt that ran past its
// timeout.
var errTimeout = errors.New("job timeout")

// jobConfig is a command job's configuration for one attempt, every
// parameter reference resolved.
type jobConfig struct {
	commands    []string // command, then command.1, command.2, ...
	dir         string
	env         []string
	retries     int
	backoff     time.Duration
	timeout     time.Duration
	timeoutText string // as configured, for messages
}

// runJob runs a command job, retries included, reports its final status and
// hands the outcome to the scheduler.
func (r *runner) runJob(n *node) {
	defer r.wg.Done()
	res := r.attempts(n)
	r.update(res.update())
	switch {
	case res.status == Succeeded:
		r.flowLog("job %s succeeded (attempt %d)", n.path, res.attempt)
	case res.errText != "":
		r.flowLog("job %s %s: %s", n.path, lower(res.status), res.errText)
	default:
		r.flowLog("job %s %s", n.path, lower(res.status))
	}
	r.events <- res
}

// attempts runs the attempts of a job until one succeeds, the retries are
// used up, or the job is killed. Every attempt reports RUNNING; every attempt
// but the last also reports how it ended.
func (r *runner) attempts(n *node) *jobResult {
	retries := 0
	var backoff time.Duration
	for attempt := 0; ; attempt++ {
		res := &jobResult{n: n, attempt: attempt, start: time.Now()}
		r.update(JobUpdate{Job: n.path, Type: n.def.Type, Status: Running, Attempt: attempt, StartTime: res.start})
		r.flowLog("job %s started (attempt %d)", n.path, attempt)

		cfg, err := r.jobConfig(n, attempt)
		if err != nil {
			// Configuration errors would fail every retry the same way.
			res.status, res.errText, res.end = Failed, err.Error(), time.Now()
			return res
		}
		if attempt == 0 {
			retries, backoff = cfg.retries, cfg.backoff
		}
		r.runAttempt(n, cfg, res)
		res.end = time.Now()
		if res.status != Failed || attempt >= retries {
			return res
		}

		r.update(res.update())
		r.flowLog("job %s failed (attempt %d): %s; retrying in %s", n.path, attempt, res.errText, backoff)
		if !r.sleep(backoff) {
			res.status = Killed
			res.errText = killText(context.Cause(r.jobsCtx))
			res.exitCode = nil
			res.end = time.Now()
			return res
		}
	}
}

// sleep waits for d and reports false if the jobs are killed meanwhile.
func (r *runner) sleep(d time.Duration) bool {
	if r.jobsCtx.Err() != nil {
		return false
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.jobsCtx.Done():
		return false
	}
}

// runAttempt runs the commands of one attempt and fills in its outcome.
func (r *runner) runAttempt(n *node, cfg *jobConfig, res *jobResult) {
	ctx := r.jobsCtx
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cfg.timeout, errTimeout)
		defer cancel()
	}
	out := r.openJobLog(n.path, res.attempt)
	defer out.Close()

	propFile := filepath.Join(r.tmpDir, fmt.Sprintf("%d.%d.json", n.index, res.attempt))
	env := append(cfg.env, "JOB_OUTPUT_PROP_FILE="+propFile)

	interrupted := func() {
		if cause := context.Cause(ctx); cause == errTimeout {
			res.status = Failed
			res.errText = "timed out after " + cfg.timeoutText
		} else {
			res.status = Killed
			res.errText = killText(cause)
		}
	}
	for _, command := range cfg.commands {
		if ctx.Err() != nil {
			interrupted()
			return
		}
		p := r.runProcess(ctx, n.path, command, cfg.dir, env, out)
		res.exitCode = p.exitCode
		if p.interrupted {
			interrupted()
			return
		}
		if p.leaseText != "" {
			// Not a failure of the job: the executor may no longer run
			// anything, and the cluster may run the flow elsewhere.
			r.leaseHit.Store(true)
			res.status = Killed
			res.errText = p.leaseText
			return
		}
		if p.err != nil {
			res.status = Failed
			res.errText = p.err.Error()
			return
		}
	}

	props, err := readOutputProps(propFile)
	if err != nil {
		res.status = Failed
		res.errText = err.Error()
		return
	}
	r.outputs.set(n.path, props)
	res.outputs = props
	res.status = Succeeded
}

// jobConfig resolves the configuration of a command job for one attempt.
func (r *runner) jobConfig(n *node, attempt int) (*jobConfig, error) {
	s := r.params(n, attempt)
	cfg := &jobConfig{dir: r.ex.WorkDir}
	wrap := func(err error) error { return fmt.Errorf("job %q: %w", n.path, err) }
	keys := s.keys()

	// Commands: "command" first, then "command.N" in numeric order.
	type numbered struct {
		n   int
		key string
	}
	var cmdKeys []numbered
	for _, k := range keys {
		if k == keyCommand {
			cmdKeys = append(cmdKeys, numbered{-1, k})
		} else if rest, ok := strings.CutPrefix(k, keyCommand+"."); ok {
			if i, err := strconv.Atoi(rest); err == nil && i >= 0 {
				cmdKeys = append(cmdKeys, numbered{i, k})
			}
		}
	}
	sort.Slice(cmdKeys, func(i, j int) bool { return cmdKeys[i].n < cmdKeys[j].n })
	for _, ck := range cmdKeys {
		v, _, err := s.get(ck.key)
		if err != nil {
			return nil, wrap(err)
		}
		cfg.commands = append(cfg.commands, v)
	}
	if len(cfg.commands) == 0 {
		return nil, wrap(errors.New("no command configured"))
	}

	if wd, ok, err := s.get(keyWorkingDir); err != nil {
		return nil, wrap(err)
	} else if ok && wd != "" {
		if !filepath.IsAbs(wd) {
			wd = filepath.Join(r.ex.WorkDir, wd)
		}
		cfg.dir = wd
	}

	env := newEnvList(r.baseEnv)
	for _, k := range keys {
		name, ok := strings.CutPrefix(k, envPrefix)
		if !ok {
			continue
		}
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return nil, wrap(fmt.Errorf("invalid environment variable name in %q", k))
		}
		v, _, err := s.get(k)
		if err != nil {
			return nil, wrap(err)
		}
		env.set(name, v)
	}
	env.set("JOB_NAME", n.def.Name)
	env.set("JOB_PATH", n.path)
	env.set("JOB_ATTEMPT", strconv.Itoa(attempt))
	env.set("AZKABAN_EXEC_ID", strconv.FormatInt(r.ex.ID, 10))
	env.set("AZKABAN_FLOW_ID", r.ex.Flow.Name)
	cfg.env = env.list

	if v, ok, err := s.get(keyRetries); err != nil {
		return nil, wrap(err)
	} else if ok && strings.TrimSpace(v) != "" {
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || i < 0 {
			return nil, wrap(fmt.Errorf("invalid %s %q", keyRetries, v))
		}
		cfg.retries = i
	}
	if v, ok, err := s.get(keyRetryBackoff); err != nil {
		return nil, wrap(err)
	} else if ok && strings.TrimSpace(v) != "" {
		ms, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || ms < 0 {
			return nil, wrap(fmt.Errorf("invalid %s %q (milliseconds)", keyRetryBackoff, v))
		}
		cfg.backoff = time.Duration(ms) * time.Millisecond
	}
	if v, ok, err := s.get(keyTimeout); err != nil {
		return nil, wrap(err)
	} else if ok {
		cfg.timeout, cfg.timeoutText, err = parseTimeout(v)
		if err != nil {
			return nil, wrap(err)
		}
	}
	return cfg, nil
}

// parseTimeout reads a timeout: a Go duration ("90s", "10m") or a number of
// seconds. Empty or zero means none.
func parseTimeout(v string) (time.Duration, string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, "", nil
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, v + "s", nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, "", fmt.Errorf("invalid %s %q (a duration such as 90s, or seconds)", keyTimeout, v)
	}
	return d, v, nil
}

// envList is an environment under construction: setting a variable replaces
// an earlier value in place.
type envList struct {
	list  []string
	index map[string]int
}

func newEnvList(base []string) *envList {
	e := &envList{index: make(map[string]int, len(base))}
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		e.set(name, kv[min(len(name)+1, len(kv)):])
	}
	return e
}

func (e *envList) set(name, value string) {
	kv := name + "=" + value
	if i, ok := e.index[name]; ok {
		e.list[i] = kv
		return
	}
	e.index[name] = len(e.list)
	e.list = append(e.list, kv)
}

// readOutputProps reads a job's output properties file: a JSON object
// whose values become strings. A missing or blank file means none.
func readOutputProps(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read output properties: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errors.New("output properties ($JOB_OUTPUT_PROP_FILE) are not a JSON object")
	}
	props := make(map[string]string, len(obj))
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			props[k] = v
		case json.Number:
			props[k] = v.String()
		case bool:
			props[k] = strconv.FormatBool(v)
		case nil:
			props[k] = ""
		default:
			b, _ := json.Marshal(v)
			props[k] = string(b)
		}
	}
	return props, nil
}

// outputStore holds the output properties of the jobs that succeeded, by
// qualified path. Job goroutines read it while resolving parameters.
type outputStore struct {
	mu sync.RWMutex
	m  map[string]map[string]string
}

func (o *outputStore) set(job string, props map[string]string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m[job] = props
}

func (o *outputStore) get(job, key string) (string, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	v, ok := o.m[job][key]
	return v, ok
}

// trimJobPrefix removes the `job "path": ` prefix of configuration error
// texts, for messages that name the job already.
func trimJobPrefix(text, path string) string {
	return strings.TrimPrefix(text, fmt.Sprintf("job %q: ", path))
}
