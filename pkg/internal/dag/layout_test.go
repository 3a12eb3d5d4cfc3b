package dag

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
)

// corpus is the Azkaban compatibility corpus, checked out beside the
// repository.
const corpus = "../../../../shared/corpus/azkaban"

// check asserts what a reader of the drawing relies on: every node placed
// once, no two boxes overlapping, every edge going down from its source's
// bottom to its target's top and never through another box.
func check(t *testing.T, name string, nodes []Node, l Layout) {
	t.Helper()
	if len(l.Boxes) != len(nodes) {
		t.Fatalf("%s: %d boxes for %d nodes", name, len(l.Boxes), len(nodes))
	}
	at := map[string]Box{}
	for i, b := range l.Boxes {
		if b.ID != nodes[i].ID {
			t.Fatalf("%s: box %d is %q, want %q", name, i, b.ID, nodes[i].ID)
		}
		if b.X < 0 || b.Y < 0 || b.X+NodeWidth > l.Width || b.Y+NodeHeight > l.Height {
			t.Errorf("%s: box %s at (%d,%d) outside %dx%d", name, b.ID, b.X, b.Y, l.Width, l.Height)
		}
		for _, o := range l.Boxes[:i] {
			if b.X < o.X+NodeWidth && o.X < b.X+NodeWidth && b.Y < o.Y+NodeHeight && o.Y < b.Y+NodeHeight {
				t.Errorf("%s: boxes %s and %s overlap", name, b.ID, o.ID)
			}
		}
		at[b.ID] = b
	}
	want := 0
	for _, n := range nodes {
		for _, d := range n.DependsOn {
			if _, ok := at[d]; ok {
				want++
			}
		}
	}
	if len(l.Edges) != want {
		t.Errorf("%s: %d edges, want %d", name, len(l.Edges), want)
	}
	for _, e := range l.Edges {
		from, to := at[e.From], at[e.To]
		if from.Rank >= to.Rank {
			t.Errorf("%s: edge %s->%s goes from rank %d to %d", name, e.From, e.To, from.Rank, to.Rank)
		}
		first, last := e.Points[0], e.Points[len(e.Points)-1]
		if first != [2]int{from.X + NodeWidth/2, from.Y + NodeHeight} || last != [2]int{to.X + NodeWidth/2, to.Y} {
			t.Errorf("%s: edge %s->%s runs %v..%v, not from the bottom of its source to the top of its target", name, e.From, e.To, first, last)
		}
		for k := 1; k < len(e.Points); k++ {
			a, b := e.Points[k-1], e.Points[k]
			if b[1] < a[1] {
				t.Errorf("%s: edge %s->%s goes up at %v->%v", name, e.From, e.To, a, b)
			}
			for _, o := range l.Boxes {
				// A vertical run inside a box's column and rows crosses it.
				if a[0] == b[0] && a[0] > o.X && a[0] < o.X+NodeWidth && max(a[1], o.Y) < min(b[1], o.Y+NodeHeight) {
					t.Errorf("%s: edge %s->%s runs through box %s", name, e.From, e.To, o.ID)
				}
			}
		}
	}
}

// flowNodes returns the nodes of one level of a flow and, by path, the
// levels of its embedded flows.
func flowNodes(prefix string, nodes []*flow.Node, levels map[string][]Node) {
	var level []Node
	for _, n := range nodes {
		level = append(level, Node{ID: n.Name, DependsOn: n.DependsOn})
		if len(n.Nodes) > 0 {
			flowNodes(prefix+n.Name+":", n.Nodes, levels)
		}
	}
	levels[strings.TrimSuffix(prefix, ":")] = level
}

// TestCorpusLayouts places every level of every flow of the corpus's valid
// projects.
func TestCorpusLayouts(t *testing.T) {
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatalf("corpus: %v", err)
	}
	placed := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "invalid" {
			continue
		}
		p, err := flow.LoadDir(filepath.Join(corpus, e.Name()), flow.Limits{})
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		for _, f := range p.Flows {
			levels := map[string][]Node{}
			flowNodes(f.Name+":", f.Nodes, levels)
			for path, nodes := range levels {
				check(t, e.Name()+"/"+path, nodes, Place(nodes))
				placed++
			}
		}
	}
	if placed < 5 {
		t.Fatalf("placed %d flow levels; the corpus should give more", placed)
	}
}

// TestLongEdgesAndCrossings: an edge that skips a rank bends around the
// node on it, and barycentre ordering removes a crossing the input order
// would draw.
func TestLongEdgesAndCrossings(t *testing.T) {
	nodes := []Node{
		{ID: "a"}, {ID: "b"},
		{ID: "c", DependsOn: []string{"b"}}, {ID: "d", DependsOn: []string{"a"}},
		{ID: "e", DependsOn: []string{"c", "d", "a"}},
	}
	l := Place(nodes)
	check(t, "crafted", nodes, l)
	layers := map[int][]Box{}
	for _, b := range l.Boxes {
		layers[b.Rank] = append(layers[b.Rank], b)
	}
	x := map[string]int{}
	for _, b := range l.Boxes {
		x[b.ID] = b.X
	}
	// a above d and b above c: their edges do not cross.
	if (x["a"] < x["b"]) != (x["d"] < x["c"]) {
		t.Errorf("edges a->d and b->c cross: x = %v", x)
	}
	var long *Edge
	for i := range l.Edges {
		if l.Edges[i].From == "a" && l.Edges[i].To == "e" {
			long = &l.Edges[i]
		}
	}
	if long == nil || len(long.Points) != 4 {
		t.Fatalf("edge a->e = %+v; want a bend on rank 1", long)
	}
}

// TestCycleAndUnknownDependency: input a validated flow never has still
// gives a drawing instead of a hang.
func TestCycleAndUnknownDependency(t *testing.T) {
	nodes := []Node{{ID: "a", DependsOn: []string{"b"}}, {ID: "b", DependsOn: []string{"a", "ghost"}}, {ID: "c", DependsOn: []string{"c"}}}
	l := Place(nodes)
	if len(l.Boxes) != 3 {
		t.Fatalf("boxes = %+v", l.Boxes)
	}
	for _, e := range l.Edges {
		if e.From == "ghost" || e.From == e.To {
			t.Errorf("edge %s->%s drawn", e.From, e.To)
		}
	}
}

// TestSVGEscapes: names and labels come from uploaded projects and must
// not become markup.
func TestSVGEscapes(t *testing.T) {
	evil := `<script>alert("x")</script>`
	l := Place([]Node{{ID: evil}, {ID: "b\" onmouseover=\"x", DependsOn: []string{evil}}})
	out := SVG(l, map[string]Style{evil: {Class: "status-RUNNING\" onclick=\"x", Title: "<b>"}})
	for _, bad := range []string{"<script", `" onmouseover="`, `" onclick="`, "<b>"} {
		if strings.Contains(out, bad) {
			t.Errorf("SVG contains %q unescaped:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, `class="node status-RUNNING&#34; onclick=&#34;x"`) || strings.Count(out, `<g class="node`) != 2 || !strings.Contains(out, `class="edge"`) {
		t.Errorf("SVG lacks its nodes or edge:\n%s", out)
	}
}
