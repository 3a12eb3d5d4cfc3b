package flow

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/crawlctl/crawlctl/pkg/internal/labels"
)

// flowVersionKey is the key of a *.project file that selects Flow 2.0.
const flowVersionKey = "azkaban-flow-version"

// loadFlow20 parses a Flow 2.0 project: every .flow file is one flow, named
// after the file, and a single .project file must declare version 2.0.
func loadFlow20(projects, flows []sourceFile) (*Project, error) {
	if err := checkFlowVersion(projects); err != nil {
		return nil, err
	}
	p := &Project{Format: FormatFlow20}
	budget := newElementBudget()
	definedBy := make(map[string]string, len(flows))
	for _, f := range flows {
		name := strings.TrimSuffix(path.Base(f.path), extFlow)
		if msg := checkName(name); msg != "" {
			return nil, invalid(f.path, 0, "flow name %q (the file name) %s", name, msg)
		}
		if other, dup := definedBy[name]; dup {
			return nil, invalid(f.path, 0, "duplicate flow name %q: %s defines it too", name, other)
		}
		definedBy[name] = f.path
		yp := &yamlParser{file: f.path, budget: budget}
		fl, err := yp.flow(f)
		if err != nil {
			return nil, err
		}
		if err := checkGraph(f.path, "", fl.Nodes); err != nil {
			return nil, err
		}
		fl.Name, fl.Dir = name, dirOf(f.path)
		p.Flows = append(p.Flows, fl)
	}
	return p, nil
}

// checkFlowVersion checks that the project has one .project file declaring
// azkaban-flow-version 2.0.
func checkFlowVersion(projects []sourceFile) error {
	switch len(projects) {
	case 0:
		return invalid("", 0, "%s is missing: *.flow files need a *.project file containing \"%s: 2.0\"", flowVersionKey, flowVersionKey)
	case 1:
	default:
		return invalid(projects[1].path, 0, "more than one *.project file (%s is another); keep one", projects[0].path)
	}
	f := projects[0]
	missing := func(line int) error {
		return invalid(f.path, line, "%s is missing: add \"%s: 2.0\"", flowVersionKey, flowVersionKey)
	}
	doc, err := parseYAML(f)
	if err != nil {
		return err
	}
	if doc == nil {
		return missing(0)
	}
	yp := &yamlParser{file: f.path, budget: newElementBudget()}
	pairs, err := yp.pairs(doc, "a *.project file")
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		if kv.key != flowVersionKey {
			continue
		}
		v, err := yp.scalar(kv.val, flowVersionKey)
		switch {
		case err != nil:
			return err
		case v == "":
			return missing(kv.val.Line)
		case v != "2.0":
			return invalid(f.path, kv.val.Line, "unsupported %s %q: only 2.0 is supported", flowVersionKey, v)
		}
		return nil
	}
	return missing(0)
}

// parseYAML parses the first YAML document of f, and returns its root node,
// or nil when the document is empty.
func parseYAML(f sourceFile) (*yaml.Node, error) {
	n, err := unmarshalYAML(f.data)
	if err != nil {
		msg := yamlLineRE.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		return nil, invalid(f.path, problemLine(f.data, err.Error()), "invalid YAML: %s", msg)
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) == 0 || isNull(n.Content[0]) {
		return nil, nil
	}
	return n.Content[0], nil
}

// unmarshalYAML parses data into a node tree. A panic of the parser is
// returned as an error: a hostile file must not take the server down.
func unmarshalYAML(data []byte) (n yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	err = yaml.Unmarshal(data, &n)
	return n, err
}

var yamlLineRE = regexp.MustCompile(`^line \d+: `)

// problemLine returns the line of the syntax error full (as returned for the
// whole of data): the first line such that the text up to its end fails with
// that same error. yaml.v3's own line is where the enclosing block starts,
// often far above the problem (and zero-based), so it is not used. The
// search is a binary search: a prefix that reaches the problem fails the same
// way as the whole text.
func problemLine(data []byte, full string) int {
	var ends []int // offset just after each line
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	lo, hi := 1, len(ends) // the whole text, line len(ends), fails
	for lo < hi {
		mid := (lo + hi) / 2
		if _, err := unmarshalYAML(data[:ends[mid-1]]); err != nil && err.Error() == full {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// yamlParser turns the YAML nodes of one .flow file into flow nodes,
// reporting problems with their line.
type yamlParser struct {
	file   string
	budget *elementBudget // shared by the project's files
}

// flow parses a .flow file: a mapping with "config" and "nodes"; other keys
// (such as "trigger") are ignored.
func (p *yamlParser) flow(f sourceFile) (*Flow, error) {
	doc, err := parseYAML(f)
	if err != nil {
		return nil, err
	}
	fl := &Flow{}
	if doc != nil {
		pairs, err := p.pairs(doc, "a flow file")
		if err != nil {
			return nil, err
		}
		for _, kv := range pairs {
			switch kv.key {
			case "config":
				fl.Config, err = p.config(kv.val, "config")
			case "nodes":
				fl.Nodes, err = p.nodes(kv.val, "", 0)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if len(fl.Nodes) == 0 {
		return nil, invalid(f.path, 0, "flow has no nodes")
	}
	return fl, nil
}

// nodes parses a list of nodes. prefix is the qualified path of the
// embedded flow that holds them ("" at the top level), depth its depth (0 at
// the top level).
func (p *yamlParser) nodes(n *yaml.Node, prefix string, depth int) ([]*Node, error) {
	n, err := p.deref(n)
	if err != nil || isNull(n) {
		return nil, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, invalid(p.file, n.Line, "nodes must be a list, not %s", kindName(n))
	}
	out := make([]*Node, 0, len(n.Content))
	for _, item := range n.Content {
		node, err := p.node(item, prefix, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, node)
	}
	return out, nil
}

// node parses one node: name, type, config, dependsOn, condition and, for
// type flow, the nested nodes of the embedded flow.
func (p *yamlParser) node(item *yaml.Node, prefix string, depth int) (*Node, error) {
	item, err := p.deref(item)
	if err != nil {
		return nil, err
	}
	pairs, err := p.pairs(item, "a node")
	if err != nil {
		return nil, err
	}
	nd := &Node{}
	var nested *yaml.Node
	for _, kv := range pairs {
		switch kv.key {
		case "name":
			nd.Name, err = p.scalar(kv.val, "name")
		case "type":
			nd.Type, err = p.scalar(kv.val, "type")
		case "config":
			nd.Config, err = p.config(kv.val, "config")
		case "dependsOn":
			nd.DependsOn, err = p.list(kv.val, "dependsOn")
		case "condition":
			nd.Condition, err = p.scalar(kv.val, "condition")
		case "nodes":
			nested = kv.val
		}
		if err != nil {
			return nil, err
		}
	}

	line := item.Line
	if nd.Name == "" {
		return nil, invalid(p.file, line, "node has no name")
	}
	qname := qualify(prefix, nd.Name)
	if msg := checkName(nd.Name); msg != "" {
		return nil, invalid(p.file, line, "node name %q %s", qname, msg)
	}
	if msg := typeProblem(nd.Type, nd.Config, "in its config"); msg != "" {
		return nil, invalid(p.file, line, "node %q %s", qname, msg)
	}
	nd.DependsOn = dedupe(nd.DependsOn)
	if nested != nil {
		if nd.Type == TypeFlow && depth+1 > maxDepth {
			return nil, invalid(p.file, line, "node %q: flows are embedded more than %d levels deep", qname, maxDepth)
		}
		if nd.Nodes, err = p.nodes(nested, qname, depth+1); err != nil {
			return nil, err
		}
	}
	switch {
	case nd.Type == TypeFlow && len(nd.Nodes) == 0:
		return nil, invalid(p.file, line, "node %q has type flow but no nested nodes", qname)
	case nd.Type != TypeFlow && len(nd.Nodes) > 0:
		return nil, invalid(p.file, line, "node %q has nested nodes but type %q; only type flow can have them", qname, nd.Type)
	}
	return nd, nil
}

// config parses a mapping of properties. Values are kept as written:
// 3 stays "3", 2.0 stays "2.0", true stays "true"; null becomes "".
func (p *yamlParser) config(n *yaml.Node, what string) (map[string]string, error) {
	n, err := p.deref(n)
	if err != nil || isNull(n) {
		return nil, err
	}
	pairs, err := p.pairs(n, what)
	if err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		if kv.key == "executor.labels" {
			// A label selector may be written as a map: {region: eu}.
			if m, err := p.deref(kv.val); err == nil && m.Kind == yaml.MappingNode {
				sel, err := p.config(m, fmt.Sprintf("%s %q", what, kv.key))
				if err != nil {
					return nil, err
				}
				out[kv.key] = labels.String(sel)
				continue
			}
		}
		v, err := p.scalar(kv.val, fmt.Sprintf("%s %q", what, kv.key))
		if err != nil {
			return nil, err
		}
		out[kv.key] = v
	}
	return out, nil
}

// list parses a list of plain values; a single value is a list of one.
func (p *yamlParser) list(n *yaml.Node, what string) ([]string, error) {
	n, err := p.deref(n)
	if err != nil || isNull(n) {
		return nil, err
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, invalid(p.file, n.Line, "%s must be a list of names, not %s", what, kindName(n))
	}
	out := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		v, err := p.scalar(item, what+" entry")
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// scalar returns the text of a plain value as written ("" for null).
func (p *yamlParser) scalar(n *yaml.Node, what string) (string, error) {
	n, err := p.deref(n)
	if err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode {
		return "", invalid(p.file, n.Line, "%s must be a single value, not %s", what, kindName(n))
	}
	if isNull(n) {
		return "", nil
	}
	return n.Value, nil
}

// yamlPair is one key and value of a mapping.
type yamlPair struct {
	key string
	val *yaml.Node
}

// pairs returns the entries of a mapping in order. It refuses keys that are
// not plain values and keys given twice, and expands YAML merge keys
// ("<<: *defaults"), whose entries come after the mapping's own and never
// replace them.
func (p *yamlParser) pairs(n *yaml.Node, what string) ([]yamlPair, error) {
	n, err := p.deref(n)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, invalid(p.file, n.Line, "%s must be a mapping, not %s", what, kindName(n))
	}
	var own, merged []yamlPair
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, err := p.deref(n.Content[i])
		if err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode {
			return nil, invalid(p.file, k.Line, "%s has a key that is %s, not a plain value", what, kindName(k))
		}
		v := n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			m, err := p.merge(v, what)
			if err != nil {
				return nil, err
			}
			merged = append(merged, m...)
			continue
		}
		if seen[k.Value] {
			return nil, invalid(p.file, k.Line, "%s has the key %q twice", what, k.Value)
		}
		seen[k.Value] = true
		own = append(own, yamlPair{key: k.Value, val: v})
	}
	for _, kv := range merged {
		if !seen[kv.key] {
			seen[kv.key] = true
			own = append(own, kv)
		}
	}
	return own, nil
}

// merge returns the entries that a merge key brings: those of a mapping, or
// of a list of mappings where the first one that has a key wins.
func (p *yamlParser) merge(v *yaml.Node, what string) ([]yamlPair, error) {
	v, err := p.deref(v)
	if err != nil {
		return nil, err
	}
	switch v.Kind {
	case yaml.MappingNode:
		return p.pairs(v, what)
	case yaml.SequenceNode:
		var out []yamlPair
		for _, item := range v.Content {
			m, err := p.pairs(item, what)
			if err != nil {
				return nil, err
			}
			out = append(out, m...)
		}
		return out, nil
	}
	return nil, invalid(p.file, v.Line, "the merge key << of %s needs a mapping or a list of mappings, not %s", what, kindName(v))
}

// maxAliasChain bounds a chain of aliases (an alias of an alias ...).
const maxAliasChain = 100

// deref resolves aliases and counts the node against the element budget, so
// that aliases cannot expand a small file into a huge project.
func (p *yamlParser) deref(n *yaml.Node) (*yaml.Node, error) {
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i == maxAliasChain {
			return nil, invalid(p.file, n.Line, "invalid YAML: unresolvable alias *%s", n.Value)
		}
		n = n.Alias
	}
	if err := p.budget.take(p.file, 1); err != nil {
		return nil, err
	}
	return n, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindName describes a YAML node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "a YAML document"
}
