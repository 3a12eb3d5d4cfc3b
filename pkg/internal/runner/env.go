package runner

import (
	"fmt"
	"path"
	"strings"
)

// BaseEnv lists the variables of the executor's environment that every job
// gets (those that are set): the search path, the user's home and name,
// the locale, the time zone and the temporary directory.
var BaseEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_*", "TZ", "TMPDIR"}

// daemonPrefix marks the daemon's own settings and secrets (CRAWLCTL_DB,
// CRAWLCTL_CLUSTER_SECRET, CRAWLCTL_TOKEN…): no job ever gets them from
// the executor's environment.
const daemonPrefix = "CRAWLCTL_"

// JobEnv returns the environment jobs start from, taken from environ (the
// executor's own): the variables named by BaseEnv and those matching one
// of the pass patterns (path.Match syntax: HTTP_PROXY, AWS_*), and never a
// CRAWLCTL_ variable. A job adds its env.NAME settings and JOB_* variables
// to it.
func JobEnv(environ, pass []string) []string {
	out := []string{}
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.HasPrefix(name, daemonPrefix) {
			continue
		}
		if matchAny(BaseEnv, name) || matchAny(pass, name) {
			out = append(out, kv)
		}
	}
	return out
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// CheckEnvPatterns validates pass-through patterns for JobEnv.
func CheckEnvPatterns(pass []string) error {
	for _, p := range pass {
		if p == "" || strings.ContainsAny(p, "=/") {
			return fmt.Errorf("bad pattern %q: use variable names, with * as a wildcard (HTTP_PROXY, AWS_*)", p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("bad pattern %q: %v", p, err)
		}
		if strings.HasPrefix(p, daemonPrefix) {
			return fmt.Errorf("bad pattern %q: %s variables are the daemon's own settings and secrets, never passed to jobs", p, daemonPrefix)
		}
	}
	return nil
}
