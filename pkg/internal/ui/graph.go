package ui

import (
	"html/template"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/dag"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
)

// crumb is one level of an embedded-flow path, for the breadcrumb above a
// graph.
type crumb struct {
	Name, Path string
}

// level finds the nodes of the level at path ("" = the flow's top level;
// "a:b" = embedded flow b inside a). It returns nil when path names no
// embedded flow.
func level(f *flow.Flow, path string) []*flow.Node {
	nodes := f.Nodes
	if path == "" {
		return nodes
	}
	for _, name := range strings.Split(path, ":") {
		var next []*flow.Node
		for _, n := range nodes {
			if n.Name == name && n.Type == flow.TypeFlow {
				next = n.Nodes
			}
		}
		if next == nil {
			return nil
		}
		nodes = next
	}
	return nodes
}

func crumbs(path string) []crumb {
	if path == "" {
		return nil
	}
	var out []crumb
	parts := strings.Split(path, ":")
	for i, p := range parts {
		out = append(out, crumb{Name: p, Path: strings.Join(parts[:i+1], ":")})
	}
	return out
}

func qualify(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + ":" + name
}

// graph draws one level of f as SVG. Node ids are job paths, so the live
// updates find them by the names the API uses; an embedded flow's node has
// the class kind-flow and opens its inner level when clicked. states gives
// each path's status (nil: not run, e.g. the flow page).
func graph(f *flow.Flow, path string, states map[string]string) template.HTML {
	nodes := level(f, path)
	in := make([]dag.Node, 0, len(nodes))
	styles := map[string]dag.Style{}
	for _, n := range nodes {
		id := qualify(path, n.Name)
		deps := make([]string, 0, len(n.DependsOn))
		for _, d := range n.DependsOn {
			deps = append(deps, qualify(path, d))
		}
		in = append(in, dag.Node{ID: id, DependsOn: deps})
		st := dag.Style{Label: n.Name, Title: n.Name + " (" + n.Type + ")"}
		class := "kind-" + n.Type
		if n.Type == flow.TypeFlow {
			st.Label = "▸ " + n.Name
			st.Title = n.Name + ": embedded flow, click to open"
		}
		if states != nil {
			s := states[id]
			if s == "" {
				s = "READY"
			}
			class += " status-" + s
			st.Title += ": " + s
		}
		st.Class = class
		styles[id] = st
	}
	// dag.SVG escapes every id, label and title: they come from uploads.
	return template.HTML(dag.SVG(dag.Place(in), styles)) // #nosec G203 -- escaped by dag.SVG
}

// nodeStates is the status of every node path of f in an execution: a job's
// own, and for an embedded flow its own row's when it has one, else one
// summed up from its jobs (failed or killed wins, then running, then done).
func nodeStates(f *flow.Flow, jobs []api.ExecutionJob) map[string]string {
	out := map[string]string{}
	for _, j := range jobs {
		out[j.Name] = j.Status
	}
	var sum func(prefix string, nodes []*flow.Node) string
	sum = func(prefix string, nodes []*flow.Node) string {
		seen := map[string]int{}
		for _, n := range nodes {
			p := qualify(prefix, n.Name)
			s := out[p]
			if n.Type == flow.TypeFlow {
				inner := sum(p, n.Nodes)
				if s == "" {
					s = inner
					out[p] = s
				}
			}
			if s == "" {
				s = "READY"
			}
			seen[s]++
		}
		for _, s := range []string{"FAILED", "KILLED", "RUNNING"} {
			if seen[s] > 0 {
				return s
			}
		}
		if seen["READY"] == len(nodes) {
			return ""
		}
		if seen["READY"] > 0 {
			return "RUNNING"
		}
		return "SUCCEEDED"
	}
	sum("", f.Nodes)
	return out
}
