package flow

import (
	"fmt"
	"strings"
	"unicode"
)

// Longest names the database keeps: a flow's name (executions.flow) and a
// job's qualified path (execution_jobs.job), in bytes.
const (
	maxNameLen = 255
	maxPathLen = 512
)

// checkName returns why name cannot name a flow, node or job, or "" if it
// can. Names end up in qualified paths (joined with ':') and in file names of
// logs, so separators are refused.
func checkName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("is longer than %d bytes", maxNameLen)
	case name == "." || name == "..":
		return "is not a valid name"
	case strings.TrimSpace(name) != name:
		return "must not start or end with a space"
	case strings.ContainsAny(name, `:/\`):
		return `must not contain ':', '/' or '\'`
	case strings.ContainsFunc(name, unicode.IsControl):
		return "must not contain control characters"
	}
	return ""
}

// typeProblem returns what is wrong with a node's type and the properties
// that type needs, or "". where says where the properties come from, for the
// message ("in its config", "property").
func typeProblem(typ string, config map[string]string, where string) string {
	switch typ {
	case TypeNoop, TypeFlow:
		return ""
	case TypeCommand:
		if strings.TrimSpace(config["command"]) == "" {
			return fmt.Sprintf(`has type command but no "command" %s`, where)
		}
		return ""
	case "":
		return "has no type (supported: command, noop, flow)"
	}
	return fmt.Sprintf("has unsupported type %q (supported: command, noop, flow)", typ)
}

// checkGraph checks the nodes of one flow defined in file, level by level
// down into embedded flows: names are unique among siblings, every
// dependency names a sibling, and dependencies have no cycle. prefix is the
// qualified path of the embedded flow holding nodes ("" at the top).
func checkGraph(file, prefix string, nodes []*Node) error {
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		if _, dup := index[n.Name]; dup {
			return invalid(file, 0, "duplicate node name %q", qualify(prefix, n.Name))
		}
		index[n.Name] = i
		if p := qualify(prefix, n.Name); len(p) > maxPathLen {
			return invalid(file, 0, "job path %q… is longer than %d bytes", p[:40], maxPathLen)
		}
	}
	for _, n := range nodes {
		for _, d := range n.DependsOn {
			if _, ok := index[d]; !ok {
				return invalid(file, 0, "node %q depends on undefined node %q", qualify(prefix, n.Name), qualify(prefix, d))
			}
		}
	}
	cycle := findCycle(len(nodes), func(i int) []int {
		deps := make([]int, len(nodes[i].DependsOn))
		for k, d := range nodes[i].DependsOn {
			deps[k] = index[d]
		}
		return deps
	})
	if cycle != nil {
		names := make([]string, len(cycle))
		for k, i := range cycle {
			names[k] = qualify(prefix, nodes[i].Name)
		}
		return invalid(file, 0, "dependency cycle: %s", strings.Join(names, " -> "))
	}
	for _, n := range nodes {
		if len(n.Nodes) > 0 {
			if err := checkGraph(file, qualify(prefix, n.Name), n.Nodes); err != nil {
				return err
			}
		}
	}
	return nil
}

// findCycle looks for a cycle in the graph of n vertices where deps(v) lists
// what v depends on. It returns the vertices of the first cycle found, in
// dependency order with the first one repeated at the end (a -> b -> a), or
// nil. The search starts from the vertices in order, and follows
// dependencies in order, so the result is deterministic.
func findCycle(n int, deps func(v int) []int) []int {
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]uint8, n)
	pos := make([]int, n) // index of a vertex in path while it is onPath
	var path []int
	var visit func(v int) []int
	visit = func(v int) []int {
		state[v] = onPath
		pos[v] = len(path)
		path = append(path, v)
		for _, w := range deps(v) {
			switch state[w] {
			case onPath:
				cycle := append([]int(nil), path[pos[w]:]...)
				return append(cycle, w)
			case unvisited:
				if c := visit(w); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[v] = done
		return nil
	}
	for v := range n {
		if state[v] == unvisited {
			if c := visit(v); c != nil {
				return c
			}
		}
	}
	return nil
}

// qualify joins an embedded flow's qualified path and a node name.
func qualify(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + ":" + name
}

// dedupe drops empty and repeated names, keeping the first occurrence.
func dedupe(names []string) []string {
	var out []string
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
