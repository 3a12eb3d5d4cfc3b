package flow

import (
	"maps"
	"path"
	"slices"
	"strings"
)

// Keys of legacy job files with a meaning for crawlctl.
const (
	keyType         = "type"
	keyCommand      = "command" // also command.1, command.2 ...: run after it, in order
	keyDependencies = "dependencies"
	keyFlowName     = "flow.name" // type=flow: the job whose flow is embedded
	keyCondition    = "condition"
)

// job is a legacy .job file.
type job struct {
	name  string
	file  string
	index int               // position in the project (path order)
	props map[string]string // inherited .properties, then the job's own keys
	deps  []string
	dep   []int // indexes of deps
}

// loadLegacy parses a legacy project of .job and .properties files.
//
// A job is named after its file; names are unique across the project. The
// .properties files of a folder apply to the jobs of that folder and below,
// a deeper folder's keys winning and the job's own keys winning over all.
// Every job that no job depends on is the last job of a flow named after it,
// holding that job and all it depends on, transitively. A type=flow job
// embeds a copy of the flow of the job named by its flow.name.
func loadLegacy(jobFiles, propFiles []sourceFile) (*Project, error) {
	budget := newElementBudget()
	folderProps := make(map[string]map[string]string) // by folder; "." is the root
	for _, f := range propFiles {
		props := parseProperties(f.data)
		if err := budget.take(f.path, len(props)); err != nil {
			return nil, err
		}
		dir := path.Dir(f.path)
		if folderProps[dir] == nil {
			folderProps[dir] = make(map[string]string)
		}
		maps.Copy(folderProps[dir], props) // several files in a folder: in path order
	}

	jobs := make([]*job, 0, len(jobFiles))
	byName := make(map[string]*job, len(jobFiles))
	for _, f := range jobFiles {
		name := strings.TrimSuffix(path.Base(f.path), extJob)
		if msg := checkName(name); msg != "" {
			return nil, invalid(f.path, 0, "job name %q (the file name) %s", name, msg)
		}
		if other := byName[name]; other != nil {
			return nil, invalid(f.path, 0, "duplicate job name %q: %s has it too; job names must be unique across the project", name, other.file)
		}
		props := inheritedProps(folderProps, path.Dir(f.path))
		maps.Copy(props, parseProperties(f.data))
		if err := budget.take(f.path, len(props)); err != nil {
			return nil, err
		}
		if msg := typeProblem(props[keyType], props, "property"); msg != "" {
			return nil, invalid(f.path, 0, "job %q %s", name, msg)
		}
		if props[keyType] == TypeFlow && props[keyFlowName] == "" {
			return nil, invalid(f.path, 0, "job %q has type flow but no %q property naming the job whose flow it embeds", name, keyFlowName)
		}
		j := &job{name: name, file: f.path, index: len(jobs), props: props, deps: splitList(props[keyDependencies])}
		jobs = append(jobs, j)
		byName[name] = j
	}

	for _, j := range jobs {
		for _, d := range j.deps {
			dep := byName[d]
			if dep == nil {
				return nil, invalid(j.file, 0, "job %q depends on undefined job %q", j.name, d)
			}
			j.dep = append(j.dep, dep.index)
		}
		if target := j.props[keyFlowName]; j.props[keyType] == TypeFlow && byName[target] == nil {
			return nil, invalid(j.file, 0, "job %q embeds %s %q, but there is no job %q", j.name, keyFlowName, target, target)
		}
	}
	if cycle := findCycle(len(jobs), func(i int) []int { return jobs[i].dep }); cycle != nil {
		names := make([]string, len(cycle))
		for k, i := range cycle {
			names[k] = jobs[i].name
		}
		return nil, invalid(jobs[cycle[0]].file, 0, "dependency cycle: %s", strings.Join(names, " -> "))
	}

	b := &legacyBuilder{jobs: jobs, byName: byName, budget: budget}
	dependedOn := make(map[string]bool)
	for _, j := range jobs {
		for _, d := range j.deps {
			dependedOn[d] = true
		}
	}
	p := &Project{Format: FormatLegacy}
	for _, j := range jobs {
		if dependedOn[j.name] {
			continue
		}
		nodes, err := b.dag(j, nil)
		if err != nil {
			return nil, err
		}
		p.Flows = append(p.Flows, &Flow{Name: j.name, Dir: dirOf(j.file), Nodes: nodes})
	}
	return p, nil
}

// inheritedProps merges the .properties of the folders from the root down to
// dir, a deeper folder's keys replacing a shallower one's.
func inheritedProps(folderProps map[string]map[string]string, dir string) map[string]string {
	props := make(map[string]string)
	maps.Copy(props, folderProps["."])
	if dir == "." {
		return props
	}
	for i, c := range dir {
		if c == '/' {
			maps.Copy(props, folderProps[dir[:i]])
		}
	}
	maps.Copy(props, folderProps[dir])
	return props
}

// splitList splits a comma-separated list, trimming the names and dropping
// empty and repeated ones.
func splitList(s string) []string {
	names := strings.Split(s, ",")
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
	}
	return dedupe(names)
}

// legacyBuilder turns validated legacy jobs into flow nodes.
type legacyBuilder struct {
	jobs   []*job
	byName map[string]*job
	budget *elementBudget
}

// dag returns new nodes for last and every job it transitively depends on,
// in project order. embedding lists the type=flow jobs whose flows are being
// expanded, outermost first, to detect a flow embedded in itself.
func (b *legacyBuilder) dag(last *job, embedding []*job) ([]*Node, error) {
	in := make([]bool, len(b.jobs))
	in[last.index] = true
	for stack := []int{last.index}; len(stack) > 0; {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range b.jobs[i].dep {
			if !in[d] {
				in[d] = true
				stack = append(stack, d)
			}
		}
	}
	var nodes []*Node
	for i, j := range b.jobs {
		if !in[i] {
			continue
		}
		n, err := b.node(j, embedding)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// node returns a new node for j, with a copy of the embedded flow when j has
// type flow.
func (b *legacyBuilder) node(j *job, embedding []*job) (*Node, error) {
	if err := b.budget.take(j.file, 1+len(j.props)); err != nil {
		return nil, err
	}
	n := &Node{
		Name:      j.name,
		Type:      j.props[keyType],
		DependsOn: slices.Clone(j.deps),
		Condition: j.props[keyCondition],
	}
	for k, v := range j.props {
		if k == keyType || k == keyDependencies {
			continue
		}
		if n.Config == nil {
			n.Config = make(map[string]string, len(j.props))
		}
		n.Config[k] = v
	}
	if n.Type != TypeFlow {
		return n, nil
	}
	if i := slices.Index(embedding, j); i >= 0 {
		names := make([]string, 0, len(embedding)-i+1)
		for _, e := range embedding[i:] {
			names = append(names, e.name)
		}
		names = append(names, j.name)
		return nil, invalid(j.file, 0, "embedded flows contain themselves: %s (each job's %s flow holds the next)", strings.Join(names, " -> "), keyFlowName)
	}
	if len(embedding) == maxDepth {
		return nil, invalid(j.file, 0, "job %q: flows are embedded more than %d levels deep", j.name, maxDepth)
	}
	nodes, err := b.dag(b.byName[j.props[keyFlowName]], append(slices.Clip(embedding), j))
	if err != nil {
		return nil, err
	}
	n.Nodes = nodes
	return n, nil
}
