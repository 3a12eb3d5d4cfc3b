// Package flow reads Azkaban project archives (Flow 2.0 YAML and legacy .job
// properties), validates them and turns them into runnable DAGs. The web server
// calls it on upload; the executor uses the parsed flows and Extract to build an
// execution's working directory.
package flow

import (
	"encoding/json"
	"sort"
)

// Node types that crawlctl runs. Any other type is refused at upload.
const (
	TypeCommand = "command"
	TypeNoop    = "noop"
	TypeFlow    = "flow" // an embedded flow: Node.Nodes holds its DAG
)

// Formats of a project archive.
const (
	FormatFlow20 = "flow2.0"
	FormatLegacy = "legacy"
)

// Project is a parsed and validated project archive.
type Project struct {
	Format string  `json:"format"`
	Flows  []*Flow `json:"flows"` // sorted by name
}

// Flow returns the flow called name, or nil.
func (p *Project) Flow(name string) *Flow {
	for _, f := range p.Flows {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// FlowNames lists the project's flows in order.
func (p *Project) FlowNames() []string {
	names := make([]string, 0, len(p.Flows))
	for _, f := range p.Flows {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// FlowNamesOf returns the sorted flow names of a project stored as JSON
// (json.Marshal of a *Project), decoding nothing else; none when data is
// empty or not such JSON.
func FlowNamesOf(data string) []string {
	var p struct {
		Flows []struct {
			Name string `json:"name"`
		} `json:"flows"`
	}
	names := []string{}
	if json.Unmarshal([]byte(data), &p) != nil {
		return names
	}
	for _, f := range p.Flows {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// Flow is one runnable DAG of nodes.
type Flow struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config,omitempty"` // flow-level parameters
	Nodes  []*Node           `json:"nodes"`
	// Dir is the folder of the flow's definition (its .flow file, or for a
	// legacy flow the .job file of its last job), relative to the project
	// root with '/' separators; "" for the root. A project zipped with a
	// top-level folder has its flows there, and relative commands such as
	// "bash ./sample_script.sh" expect to run from it.
	Dir string `json:"dir,omitempty"`
}

// Node is one job of a flow, or an embedded flow (Type == TypeFlow).
type Node struct {
	Name      string            `json:"name"` // unique among its siblings
	Type      string            `json:"type"`
	Config    map[string]string `json:"config,omitempty"` // job properties; legacy .properties already merged in
	DependsOn []string          `json:"depends_on,omitempty"`
	Condition string            `json:"condition,omitempty"`
	Nodes     []*Node           `json:"nodes,omitempty"` // the embedded DAG when Type == TypeFlow
}
