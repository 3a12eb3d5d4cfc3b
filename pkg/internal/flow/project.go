package flow

import (
	"path"
	"slices"
	"strings"
)

// File name extensions that define a project. They are matched
// case-sensitively, anywhere in the tree.
const (
	extFlow       = ".flow"       // Flow 2.0: one flow per file
	extProject    = ".project"    // Flow 2.0: azkaban-flow-version
	extJob        = ".job"        // legacy: one job per file
	extProperties = ".properties" // legacy: properties inherited by the jobs of a folder
)

// isDefinition reports whether the file name defines flows, jobs or their
// properties, and so has to be read and parsed.
func isDefinition(name string) bool {
	switch path.Ext(name) {
	case extFlow, extProject, extJob, extProperties:
		return true
	}
	return false
}

// sourceFile is one definition file of a project.
type sourceFile struct {
	path string // relative to the project root, '/'-separated
	data []byte
}

// parseProject parses and validates the definition files of a project.
// The .flow files decide the format: with them the project is Flow 2.0 and
// any .job files are ignored; without them it is legacy.
func parseProject(files []sourceFile) (*Project, error) {
	slices.SortFunc(files, func(a, b sourceFile) int { return strings.Compare(a.path, b.path) })
	var flows, projects, jobs, props []sourceFile
	for _, f := range files {
		switch path.Ext(f.path) {
		case extFlow:
			flows = append(flows, f)
		case extProject:
			projects = append(projects, f)
		case extJob:
			jobs = append(jobs, f)
		case extProperties:
			props = append(props, f)
		}
	}

	var (
		p   *Project
		err error
	)
	switch {
	case len(flows) > 0:
		p, err = loadFlow20(projects, flows)
	case len(jobs) > 0:
		p, err = loadLegacy(jobs, props)
	default:
		return nil, invalid("", 0, "no flow found: add *.flow files with a *.project file, or *.job files")
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(p.Flows, func(a, b *Flow) int { return strings.Compare(a.Name, b.Name) })
	return p, nil
}

// maxElements bounds the nodes and properties a project may expand to, so
// that YAML aliases or legacy flows embedded in one another cannot exhaust
// memory. Real projects stay far below it.
const maxElements = 1_000_000

// maxDepth bounds how deep flows may be embedded in one another. Real
// projects use two or three levels; the bound keeps qualified paths, which
// grow with the depth, small.
const maxDepth = 32

// elementBudget counts nodes and properties against maxElements.
type elementBudget struct{ left int }

func newElementBudget() *elementBudget { return &elementBudget{left: maxElements} }

// take accounts for n more elements read from file.
func (b *elementBudget) take(file string, n int) error {
	b.left -= n
	if b.left < 0 {
		return invalid(file, 0, "project is too large: over %d nodes and properties once YAML aliases and embedded flows are expanded", maxElements)
	}
	return nil
}

// dirOf returns the directory of a project file, "" for the root.
func dirOf(name string) string {
	if d := path.Dir(name); d != "." {
		return d
	}
	return ""
}
