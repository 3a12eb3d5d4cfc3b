package flow

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

const project20 = "azkaban-flow-version: 2.0\n"

func TestFlow20Refusals(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name: "unknown type",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: ok
    type: noop
  - name: wordcount
    type: hadoopJava
    config:
      job.class: WordCount
`},
			want: []string{`f.flow:4: node "wordcount" has unsupported type "hadoopJava" (supported: command, noop, flow)`},
		},
		{
			name: "unknown type inside an embedded flow",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: outer
    type: flow
    nodes:
      - name: spark_job
        type: spark
`},
			want: []string{`f.flow:5: node "outer:spark_job" has unsupported type "spark"`},
		},
		{
			name: "missing type",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: a
`},
			want: []string{`f.flow:2: node "a" has no type`},
		},
		{
			name: "missing command",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: a
    type: command
    config:
      other: x
`},
			want: []string{`f.flow:2: node "a" has type command but no "command" in its config`},
		},
		{
			name: "missing name",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: a
    type: noop
  - type: noop
`},
			want: []string{"f.flow:4: node has no name"},
		},
		{
			name: "name with a separator",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: "a:b"
    type: noop
`},
			want: []string{`f.flow:2: node name "a:b" must not contain ':'`},
		},
		{
			name: "flow node without nodes",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: sub
    type: flow
    config:
      prop: value
`},
			want: []string{`f.flow:2: node "sub" has type flow but no nested nodes`},
		},
		{
			name: "nested nodes under a job",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: a
    type: noop
    nodes:
      - name: b
        type: noop
`},
			want: []string{`f.flow:2: node "a" has nested nodes but type "noop"`},
		},
		{
			name: "malformed YAML",
			files: map[string]string{"p.project": project20, "broken.flow": `nodes:
  - name: a
    type: noop
   dependsOn: [b
`},
			want: []string{"broken.flow:4: invalid YAML: did not find expected '-' indicator"},
		},
		{
			name:  "malformed YAML in a subfolder",
			files: map[string]string{"p.project": project20, "flows/tabs.flow": "nodes:\n\t- name: a\n"},
			want:  []string{"flows/tabs.flow:2: invalid YAML: found character that cannot start any token"},
		},
		{
			name: "malformed YAML deep in a file",
			files: map[string]string{"p.project": project20, "deep.flow": `config:
  a: 1
nodes:
  - name: a
    type: noop
  - name: b
    type: noop
    config:
      x: 1
     y: 2
`},
			want: []string{"deep.flow:10: invalid YAML: did not find expected key"},
		},
		{
			name:  "unclosed quote",
			files: map[string]string{"p.project": project20, "q.flow": "nodes:\n  - name: \"a\n    type: noop\n"},
			want:  []string{"q.flow:2: invalid YAML: found unexpected end of stream"},
		},
		{
			name:  "undefined alias",
			files: map[string]string{"p.project": project20, "a.flow": "nodes:\n  - name: a\n    type: *missing\n"},
			want:  []string{"a.flow:3: invalid YAML: unknown anchor 'missing' referenced"},
		},
		{
			name:  "malformed project file",
			files: map[string]string{"p.project": "azkaban-flow-version: [2.0\n", "f.flow": "nodes:\n  - {name: a, type: noop}\n"},
			want:  []string{"p.project:1: invalid YAML: "},
		},
		{
			name:  "flow without nodes",
			files: map[string]string{"p.project": project20, "empty.flow": "config:\n  a: b\n"},
			want:  []string{"empty.flow: flow has no nodes"},
		},
		{
			name:  "empty flow file",
			files: map[string]string{"p.project": project20, "empty.flow": ""},
			want:  []string{"empty.flow: flow has no nodes"},
		},
		{
			name:  "flow file that is a list",
			files: map[string]string{"p.project": project20, "list.flow": "- a\n- b\n"},
			want:  []string{"list.flow:1: a flow file must be a mapping, not a list"},
		},
		{
			name: "config value that is a list",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: a
    type: command
    config:
      command: [echo, hi]
`},
			want: []string{`f.flow:5: config "command" must be a single value, not a list`},
		},
		{
			name: "key given twice",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: a
    type: noop
    name: b
`},
			want: []string{`f.flow:4: a node has the key "name" twice`},
		},
		{
			name: "cycle in an embedded flow",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: sub
    type: flow
    nodes:
      - name: x
        type: noop
        dependsOn: [y]
      - name: y
        type: noop
        dependsOn: [x]
`},
			want: []string{"f.flow: dependency cycle: sub:x -> sub:y -> sub:x"},
		},
		{
			name: "self dependency",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: a
    type: noop
    dependsOn: [a]
`},
			want: []string{"f.flow: dependency cycle: a -> a"},
		},
		{
			name: "dependency on a node of another level",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: top
    type: noop
  - name: sub
    type: flow
    nodes:
      - name: x
        type: noop
        dependsOn: [top]
`},
			want: []string{`f.flow: node "sub:x" depends on undefined node "sub:top"`},
		},
		{
			name: "duplicate names in an embedded flow",
			files: map[string]string{"p.project": project20, "f.flow": `nodes:
  - name: sub
    type: flow
    nodes:
      - {name: x, type: noop}
      - {name: x, type: noop}
`},
			want: []string{`f.flow: duplicate node name "sub:x"`},
		},
		{
			name: "duplicate flow names",
			files: map[string]string{
				"p.project": project20,
				"a/f.flow":  "nodes:\n  - {name: a, type: noop}\n",
				"b/f.flow":  "nodes:\n  - {name: b, type: noop}\n",
			},
			want: []string{`b/f.flow: duplicate flow name "f": a/f.flow defines it too`},
		},
		{
			name:  "no project file",
			files: map[string]string{"f.flow": "nodes:\n  - {name: a, type: noop}\n"},
			want:  []string{"azkaban-flow-version is missing: *.flow files need a *.project file"},
		},
		{
			name: "project file without the version",
			files: map[string]string{
				"p.project": "other: 1\n",
				"f.flow":    "nodes:\n  - {name: a, type: noop}\n",
			},
			want: []string{`p.project: azkaban-flow-version is missing: add "azkaban-flow-version: 2.0"`},
		},
		{
			name: "version 3.0",
			files: map[string]string{
				"p.project": "azkaban-flow-version: 3.0\n",
				"f.flow":    "nodes:\n  - {name: a, type: noop}\n",
			},
			want: []string{`p.project:1: unsupported azkaban-flow-version "3.0": only 2.0 is supported`},
		},
		{
			name: "two project files",
			files: map[string]string{
				"a.project": project20,
				"b.project": project20,
				"f.flow":    "nodes:\n  - {name: a, type: noop}\n",
			},
			want: []string{"b.project: more than one *.project file (a.project is another)"},
		},
		{
			name: "first error in path order wins",
			files: map[string]string{
				"p.project": project20,
				"a.flow":    "nodes:\n  - {name: a, type: pig}\n",
				"b.flow":    "nodes:\n  - {name: b, type: hive}\n",
			},
			want: []string{`a.flow:2: node "a" has unsupported type "pig"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadBoth(t, tc.files)
			wantRefusal(t, err, tc.want...)
		})
	}
}

func TestFlow20Config(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"p.project": project20,
		"f.flow": `config:
  retries: 3
  ratio: 2.0
  enabled: true
  empty:
  quoted: "007"
  hex: 0x1F
nodes:
  - name: a
    type: command
    condition: all_success
    config:
      command: echo ${ratio}
      retries: 5
      multi: |
        line one
        line two
`,
	})
	f := p.Flow("f")
	wantFlow := map[string]string{"retries": "3", "ratio": "2.0", "enabled": "true", "empty": "", "quoted": "007", "hex": "0x1F"}
	if !reflect.DeepEqual(f.Config, wantFlow) {
		t.Errorf("flow config = %q, want %q", f.Config, wantFlow)
	}
	n := f.Nodes[0]
	wantNode := map[string]string{"command": "echo ${ratio}", "retries": "5", "multi": "line one\nline two\n"}
	if !reflect.DeepEqual(n.Config, wantNode) {
		t.Errorf("node config = %q, want %q", n.Config, wantNode)
	}
	if n.Condition != "all_success" {
		t.Errorf("condition = %q, want all_success", n.Condition)
	}
}

func TestFlow20ConditionPassthrough(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"p.project": project20,
		"f.flow": `nodes:
  - name: a
    type: command
    config: {command: "echo a"}
  - name: b
    type: noop
    dependsOn: [a]
    condition: ${a:param1} == 1 && one_success
`,
	})
	if got := p.Flow("f").Nodes[1].Condition; got != "${a:param1} == 1 && one_success" {
		t.Errorf("condition = %q", got)
	}
}

// YAML anchors, aliases and merge keys work as in any YAML file.
func TestFlow20Aliases(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"p.project": project20,
		"f.flow": `defaults: &defaults
  retries: "2"
  command: echo default
nodes:
  - name: a
    type: command
    config:
      <<: *defaults
      command: echo a
  - name: b
    type: command
    dependsOn: &deps [a]
    config: *defaults
  - name: c
    type: noop
    dependsOn: *deps
`,
	})
	got := describe(p.Flow("f"))
	want := []string{"a command $ echo a", "b command <- a $ echo default", "c noop <- a"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if r := p.Flow("f").Nodes[0].Config["retries"]; r != "2" {
		t.Errorf("merged retries = %q, want 2", r)
	}
}

// Aliases cannot blow a small file up into a huge project: each level below
// holds two copies of the level above, 2^30 nodes in all.
func TestFlow20AliasBomb(t *testing.T) {
	yaml := "l0: &l0 [{name: x, type: noop}, {name: y, type: noop}]\n"
	for i := 1; i <= 30; i++ {
		yaml += fmt.Sprintf("l%d: &l%d [{name: x, type: flow, nodes: *l%d}, {name: y, type: flow, nodes: *l%d}]\n", i, i, i-1, i-1)
	}
	yaml += "nodes: *l30\n"
	_, err := loadZip(zipFiles(t, map[string]string{"p.project": project20, "bomb.flow": yaml}), Limits{})
	wantRefusal(t, err, "bomb.flow: project is too large")
}

func TestFlow20EmbeddingDepth(t *testing.T) {
	nested := func(levels int) string {
		y, indent := "nodes:\n", ""
		for i := range levels {
			y += fmt.Sprintf("%s  - name: level%d\n%s    type: flow\n%s    nodes:\n", indent, i, indent, indent)
			indent += "    "
		}
		return y + indent + "  - {name: leaf, type: noop}\n"
	}
	p := mustLoad(t, map[string]string{"p.project": project20, "deep.flow": nested(maxDepth)})
	if got := p.Flow("deep").JobCount(); got != 1 {
		t.Errorf("JobCount() = %d, want 1", got)
	}
	_, err := loadBoth(t, map[string]string{"p.project": project20, "deep.flow": nested(maxDepth + 1)})
	wantRefusal(t, err, "deep.flow:", "flows are embedded more than 32 levels deep")
}

func TestWalkAndJobCount(t *testing.T) {
	f := &Flow{Nodes: []*Node{
		{Name: "a", Type: TypeCommand},
		{Name: "e1", Type: TypeFlow, Nodes: []*Node{
			{Name: "b", Type: TypeNoop},
			{Name: "e2", Type: TypeFlow, Nodes: []*Node{{Name: "c", Type: TypeCommand}}},
		}},
		{Name: "d", Type: TypeNoop},
	}}
	var paths []string
	f.Walk(func(path string, n *Node) { paths = append(paths, path) })
	want := []string{"a", "e1", "e1:b", "e1:e2", "e1:e2:c", "d"}
	if !slices.Equal(paths, want) {
		t.Errorf("Walk paths = %q, want %q", paths, want)
	}
	if got := f.JobCount(); got != 4 {
		t.Errorf("JobCount() = %d, want 4", got)
	}
	if got := (&Flow{}).JobCount(); got != 0 {
		t.Errorf("empty flow JobCount() = %d", got)
	}
}

func TestValidationErrorFormat(t *testing.T) {
	tests := []struct {
		err  ValidationError
		want string
	}{
		{ValidationError{File: "a.flow", Line: 3, Msg: "bad"}, "a.flow:3: bad"},
		{ValidationError{File: "a.flow", Msg: "bad"}, "a.flow: bad"},
		{ValidationError{Msg: "no flow found"}, "no flow found"},
		{ValidationError{File: "evil\nname", Msg: "multi\nline"}, `evil\x0aname: multi\x0aline`},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	tests := map[int64]string{
		1:                 "1 byte",
		512:               "512 bytes",
		2048:              "2 KiB",
		1536:              "1.5 KiB",
		200 << 20:         "200 MiB",
		1 << 30:           "1 GiB",
		(50 << 20) + 91:   "50.0 MiB",
		(1 << 30) * 3 / 2: "1.5 GiB",
	}
	for n, want := range tests {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	size, limit := sizeAndLimit((200<<20)+1, 200<<20)
	if size != "209715201 bytes" || limit != "200 MiB (209715200 bytes)" {
		t.Errorf("sizeAndLimit just over = %q, %q", size, limit)
	}
	size, limit = sizeAndLimit(300<<20, 200<<20)
	if size != "300 MiB" || limit != "200 MiB" {
		t.Errorf("sizeAndLimit = %q, %q", size, limit)
	}
}
