package dag

import (
	"fmt"
	"html"
	"strings"
)

// Style is how one node is drawn.
type Style struct {
	// Label is the text shown (the node id when empty); it is escaped.
	Label string
	// Class is added to the node's class attribute (e.g. its status, as
	// "status-RUNNING"), so a page can colour and update it.
	Class string
	// Title is shown on hover.
	Title string
}

// SVG draws l as an SVG element: each node a <g class="node CLASS"
// data-id="ID"> with a rect and its label, each edge a <path class="edge">
// ending in an arrow. Every text and attribute is escaped: ids and labels
// come from uploaded projects.
func SVG(l Layout, styles map[string]Style) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, l.Width, l.Height, l.Width, l.Height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrow"/></marker></defs>`)
	for _, e := range l.Edges {
		b.WriteString(`<path class="edge" marker-end="url(#arrow)" data-from="` + html.EscapeString(e.From) + `" data-to="` + html.EscapeString(e.To) + `" d="`)
		for k, p := range e.Points {
			if k == 0 {
				fmt.Fprintf(&b, "M %d %d", p[0], p[1])
			} else {
				fmt.Fprintf(&b, " L %d %d", p[0], p[1])
			}
		}
		b.WriteString(`"/>`)
	}
	for _, box := range l.Boxes {
		st := styles[box.ID]
		label := st.Label
		if label == "" {
			label = box.ID
		}
		class := "node"
		if st.Class != "" {
			class += " " + st.Class
		}
		fmt.Fprintf(&b, `<g class="%s" data-id="%s" transform="translate(%d %d)">`, html.EscapeString(class), html.EscapeString(box.ID), box.X, box.Y)
		if st.Title != "" {
			b.WriteString("<title>" + html.EscapeString(st.Title) + "</title>")
		}
		fmt.Fprintf(&b, `<rect width="%d" height="%d" rx="6"/>`, NodeWidth, NodeHeight)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" dominant-baseline="central">%s</text></g>`, NodeWidth/2, NodeHeight/2, html.EscapeString(shorten(label, 22)))
	}
	b.WriteString("</svg>")
	return b.String()
}

// shorten cuts s to n characters, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
