package flow

// Walk calls fn for every node of f, depth first in file order, a node before
// the nodes of its embedded flow. path is the node's qualified path: the
// names from the top level down, joined with ':'
// ("embedded_flow1:embedded_flow2:shell_end").
func (f *Flow) Walk(fn func(path string, n *Node)) {
	walkNodes("", f.Nodes, fn)
}

func walkNodes(prefix string, nodes []*Node, fn func(string, *Node)) {
	for _, n := range nodes {
		p := qualify(prefix, n.Name)
		fn(p, n)
		walkNodes(p, n.Nodes, fn)
	}
}

// JobCount returns the number of jobs f runs: every node, at any depth,
// except the embedded-flow nodes that only contain others.
func (f *Flow) JobCount() int {
	count := 0
	f.Walk(func(_ string, n *Node) {
		if n.Type != TypeFlow {
			count++
		}
	})
	return count
}
