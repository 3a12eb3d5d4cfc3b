// Package dag lays out a flow's DAG for drawing: layered, top to bottom,
// every edge pointing down. Ranks are longest paths from the flow's sources;
// an edge that skips ranks passes through a bend point on each rank it
// crosses, so it never runs through a node; the order within each rank is
// improved by barycentre sweeps to cut crossings. The web UI draws the
// result as SVG (see SVG).
package dag

import (
	"cmp"
	"slices"
)

// Node is one node to place: its id, unique in the graph, and the ids of
// the nodes it depends on (its edges come from them).
type Node struct {
	ID        string
	DependsOn []string
}

// Sizes of the drawing, in SVG user units.
const (
	NodeWidth  = 160
	NodeHeight = 36
	ColumnGap  = 28
	RankGap    = 56
	Margin     = 16
)

// Box is a placed node: its top-left corner and its rank (0 at the top).
type Box struct {
	ID   string
	X, Y int
	Rank int
}

// Edge is a placed edge from From to To: a polyline starting at the bottom
// centre of From's box and ending at the top centre of To's, through Points
// in between (one per rank it crosses).
type Edge struct {
	From, To string
	Points   [][2]int // every point, start and end included
}

// Layout is a placed graph.
type Layout struct {
	Boxes         []Box // in the order of the nodes given
	Edges         []Edge
	Width, Height int
}

// cell is a place on a rank: a node, or a bend of a long edge.
type cell struct {
	id    string // node id; "" for a bend
	edge  int    // for a bend: the edge it belongs to
	order float64
	up    []*cell // cells on the rank above linked to this one
	down  []*cell
}

// Place lays nodes out. Dependencies on ids that are not in nodes are
// ignored; a cycle (which validated flows never have) is broken by ranking
// the nodes on it as they come.
func Place(nodes []Node) Layout {
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		index[n.ID] = i
	}
	rank := ranks(nodes, index)
	maxRank := 0
	for _, r := range rank {
		maxRank = max(maxRank, r)
	}

	// Cells per rank, in the order the nodes came.
	layers := make([][]*cell, maxRank+1)
	cells := make([]*cell, len(nodes))
	for i, n := range nodes {
		c := &cell{id: n.ID}
		cells[i] = c
		layers[rank[i]] = append(layers[rank[i]], c)
	}
	// Edges, with a bend on every rank an edge skips.
	type route struct {
		from, to string
		chain    []*cell // from's cell, bends, to's cell
	}
	var routes []route
	for i, n := range nodes {
		for _, dep := range n.DependsOn {
			j, ok := index[dep]
			if !ok || rank[j] >= rank[i] {
				continue
			}
			chain := []*cell{cells[j]}
			for r := rank[j] + 1; r < rank[i]; r++ {
				b := &cell{edge: len(routes)}
				layers[r] = append(layers[r], b)
				chain = append(chain, b)
			}
			chain = append(chain, cells[i])
			for k := 0; k+1 < len(chain); k++ {
				chain[k].down = append(chain[k].down, chain[k+1])
				chain[k+1].up = append(chain[k+1].up, chain[k])
			}
			routes = append(routes, route{from: dep, to: n.ID, chain: chain})
		}
	}

	order(layers)

	// Coordinates: each rank centred on the widest.
	widest := 0
	for _, l := range layers {
		widest = max(widest, len(l))
	}
	step := NodeWidth + ColumnGap
	pos := map[*cell][2]int{}
	for r, l := range layers {
		left := Margin + (widest-len(l))*step/2
		for k, c := range l {
			pos[c] = [2]int{left + k*step, Margin + r*(NodeHeight+RankGap)}
		}
	}

	out := Layout{
		Width:  2*Margin + max(widest*step-ColumnGap, 0),
		Height: 2*Margin + max((maxRank+1)*(NodeHeight+RankGap)-RankGap, 0),
	}
	if len(nodes) == 0 {
		out.Width, out.Height = 2*Margin, 2*Margin
	}
	for i, n := range nodes {
		p := pos[cells[i]]
		out.Boxes = append(out.Boxes, Box{ID: n.ID, X: p[0], Y: p[1], Rank: rank[i]})
	}
	for _, rt := range routes {
		e := Edge{From: rt.from, To: rt.to}
		for k, c := range rt.chain {
			p := pos[c]
			x := p[0] + NodeWidth/2
			switch {
			case k == 0:
				e.Points = append(e.Points, [2]int{x, p[1] + NodeHeight})
			case k == len(rt.chain)-1:
				e.Points = append(e.Points, [2]int{x, p[1]})
			default: // a bend passes through its slot, top to bottom
				e.Points = append(e.Points, [2]int{x, p[1]}, [2]int{x, p[1] + NodeHeight})
			}
		}
		out.Edges = append(out.Edges, e)
	}
	return out
}

// ranks gives each node the length of the longest path to it from a node
// without dependencies.
func ranks(nodes []Node, index map[string]int) []int {
	rank := make([]int, len(nodes))
	state := make([]int8, len(nodes)) // 0 new, 1 on the path, 2 done
	var visit func(i int) int
	visit = func(i int) int {
		switch state[i] {
		case 1:
			return -1 // a cycle: this edge does not count
		case 2:
			return rank[i]
		}
		state[i] = 1
		r := 0
		for _, dep := range nodes[i].DependsOn {
			if j, ok := index[dep]; ok && j != i {
				if d := visit(j); d >= 0 {
					r = max(r, d+1)
				}
			}
		}
		rank[i], state[i] = r, 2
		return r
	}
	for i := range nodes {
		visit(i)
	}
	return rank
}

// sweeps is how many down-and-up passes order makes.
const sweeps = 4

// order sorts each rank by the barycentre of its neighbours on the rank
// just swept, down then up, keeping the order with the fewest crossings.
func order(layers [][]*cell) {
	number := func() {
		for _, l := range layers {
			for k, c := range l {
				c.order = float64(k)
			}
		}
	}
	number()
	best, bestCrossings := snapshot(layers), crossings(layers)
	for range sweeps {
		for r := 1; r < len(layers); r++ {
			sortBy(layers[r], func(c *cell) []*cell { return c.up })
		}
		for r := len(layers) - 2; r >= 0; r-- {
			sortBy(layers[r], func(c *cell) []*cell { return c.down })
		}
		if n := crossings(layers); n < bestCrossings {
			best, bestCrossings = snapshot(layers), n
		}
		if bestCrossings == 0 {
			break
		}
	}
	for r := range layers {
		copy(layers[r], best[r])
	}
	number()
}

// sortBy orders l by the mean position of each cell's neighbours; cells
// without any keep their place.
func sortBy(l []*cell, neighbours func(*cell) []*cell) {
	type keyed struct {
		c   *cell
		key float64
	}
	ks := make([]keyed, len(l))
	for k, c := range l {
		ks[k] = keyed{c, c.order}
		if ns := neighbours(c); len(ns) > 0 {
			sum := 0.0
			for _, n := range ns {
				sum += n.order
			}
			ks[k].key = sum / float64(len(ns))
		}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	for k := range ks {
		l[k] = ks[k].c
		l[k].order = float64(k)
	}
}

// crossings counts pairs of edges between adjacent ranks that cross.
func crossings(layers [][]*cell) int {
	n := 0
	for r := 0; r+1 < len(layers); r++ {
		var segs [][2]float64
		for _, c := range layers[r] {
			for _, d := range c.down {
				segs = append(segs, [2]float64{c.order, d.order})
			}
		}
		for i := range segs {
			for j := i + 1; j < len(segs); j++ {
				a, b := segs[i], segs[j]
				if (a[0]-b[0])*(a[1]-b[1]) < 0 {
					n++
				}
			}
		}
	}
	return n
}

func snapshot(layers [][]*cell) [][]*cell {
	out := make([][]*cell, len(layers))
	for r, l := range layers {
		out[r] = slices.Clone(l)
	}
	return out
}
