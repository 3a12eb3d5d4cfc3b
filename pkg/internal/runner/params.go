package runner

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// paramPattern matches a parameter reference: ${name} or ${job:key}, where
// job may itself be a ':'-joined path. Every ':'-separated part must start
// with a letter, digit or underscore, so shell expansions such as
// ${VAR:-default}, ${#VAR} or ${VAR%.*} do not match and reach the shell
// untouched. A plain ${VAR} does match: like Azkaban, a job that means the
// shell variable writes $VAR instead.
var paramPattern = regexp.MustCompile(`\$\{([A-Za-z0-9_][A-Za-z0-9_.\-]*(?::[A-Za-z0-9_][A-Za-z0-9_.\-]*)*)\}`)

// maxParamDepth bounds how deeply parameter values may refer to other
// parameters, which turns a reference loop into an error.
const maxParamDepth = 32

// Built-in parameter names, compatible with Azkaban's.
const (
	paramExecID         = "azkaban.flow.execid"
	paramFlowID         = "azkaban.flow.flowid"
	paramProjectName    = "azkaban.flow.projectname"
	paramProjectVersion = "azkaban.flow.projectversion"
	paramJobID          = "azkaban.job.id"
	paramJobAttempt     = "azkaban.job.attempt"
)

// undefinedParamError reports a ${name} that no layer defines.
type undefinedParamError struct{ name string }

func (e *undefinedParamError) Error() string {
	return fmt.Sprintf("undefined parameter ${%s}", e.name)
}

// paramScope resolves parameters for one node and attempt. Lookup order,
// highest precedence first: submit-time overrides, the node's own config,
// the configs of its enclosing embedded-flow containers (inner to outer),
// the flow config, then the built-ins. ${job:key} refers to the output
// properties of another job.
type paramScope struct {
	layers   []map[string]string
	builtins map[string]string
	// output returns the output property key of job, a sibling name or a
	// qualified path.
	output func(job, key string) (string, bool)
}

// lookup returns the unresolved value of name from the config layers.
func (s *paramScope) lookup(name string) (string, bool) {
	for _, layer := range s.layers {
		if v, ok := layer[name]; ok {
			return v, true
		}
	}
	return "", false
}

// keys lists every key defined by a config layer (built-ins excluded), sorted.
func (s *paramScope) keys() []string {
	seen := make(map[string]bool)
	var keys []string
	for _, layer := range s.layers {
		for k := range layer {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// get returns the resolved value of the config key, and whether it is set.
func (s *paramScope) get(key string) (string, bool, error) {
	raw, ok := s.lookup(key)
	if !ok {
		return "", false, nil
	}
	v, err := s.expand(raw, 0)
	return v, true, err
}

// expand substitutes every parameter reference in v.
func (s *paramScope) expand(v string, depth int) (string, error) {
	matches := paramPattern.FindAllStringSubmatchIndex(v, -1)
	if matches == nil {
		return v, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(v[last:m[0]])
		val, err := s.param(v[m[2]:m[3]], depth)
		if err != nil {
			return "", err
		}
		b.WriteString(val)
		last = m[1]
	}
	b.WriteString(v[last:])
	return b.String(), nil
}

// param returns the resolved value of the reference ${name}. Config values
// are resolved recursively; output properties and built-ins are literal.
func (s *paramScope) param(name string, depth int) (string, error) {
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		if v, ok := s.output(name[:i], name[i+1:]); ok {
			return v, nil
		}
		return "", &undefinedParamError{name: name}
	}
	if raw, ok := s.lookup(name); ok {
		if depth >= maxParamDepth {
			return "", fmt.Errorf("parameter ${%s} nests more than %d levels deep (circular reference?)", name, maxParamDepth)
		}
		return s.expand(raw, depth+1)
	}
	if v, ok := s.builtins[name]; ok {
		return v, nil
	}
	return "", &undefinedParamError{name: name}
}

// params returns the parameter scope of node n for the given attempt.
func (r *runner) params(n *node, attempt int) *paramScope {
	layers := make([]map[string]string, 0, 4)
	layers = append(layers, r.ex.Params, n.def.Config)
	for p := n.parent; p != nil; p = p.parent {
		layers = append(layers, p.def.Config)
	}
	layers = append(layers, r.ex.Flow.Config)

	// Siblings are looked up by name first, then the reference is taken as
	// a qualified path from the top of the flow.
	prefix := ""
	if n.parent != nil {
		prefix = n.parent.path + pathSep
	}
	return &paramScope{
		layers: layers,
		builtins: map[string]string{
			paramExecID:         strconv.FormatInt(r.ex.ID, 10),
			paramFlowID:         r.ex.Flow.Name,
			paramProjectName:    r.ex.Project,
			paramProjectVersion: strconv.Itoa(r.ex.ProjectVersion),
			paramJobID:          n.def.Name,
			paramJobAttempt:     strconv.Itoa(attempt),
		},
		output: func(job, key string) (string, bool) {
			if prefix != "" {
				if v, ok := r.outputs.get(prefix+job, key); ok {
					return v, true
				}
			}
			return r.outputs.get(job, key)
		},
	}
}
