package flow

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

func TestLegacyPropertiesInheritance(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"common.properties":       "type=command\nuser.to.proxy=root\nretries=1\n",
		"top.job":                 "command=echo top\ndependencies=mid\n",
		"sub/sub.properties":      "retries=2\nsub.only=yes\n",
		"sub/mid.job":             "command=echo mid\ndependencies = leaf , leaf2\n",
		"sub/deeper/d.properties": "retries=3\n",
		"sub/deeper/leaf.job":     "command=echo leaf\nretries=9\n",
		"sub/deeper/leaf2.job":    "command=echo leaf2\n",
		"other/other.job":         "type=noop\n",
	})
	if p.Format != FormatLegacy {
		t.Errorf("format %q, want %q", p.Format, FormatLegacy)
	}
	if got := p.FlowNames(); !slices.Equal(got, []string{"other", "top"}) {
		t.Fatalf("flows %q, want [other top]", got)
	}
	top := p.Flow("top")
	wantTop := []string{
		"leaf command $ echo leaf",
		"leaf2 command $ echo leaf2",
		"mid command <- leaf,leaf2 $ echo mid",
		"top command <- mid $ echo top",
	}
	if got := describe(top); !slices.Equal(got, wantTop) {
		t.Errorf("top:\ngot  %q\nwant %q", got, wantTop)
	}
	want := map[string]map[string]string{
		// The job's own key wins over every folder.
		"leaf": {"command": "echo leaf", "user.to.proxy": "root", "retries": "9", "sub.only": "yes"},
		// A deeper folder wins over a shallower one.
		"leaf2": {"command": "echo leaf2", "user.to.proxy": "root", "retries": "3", "sub.only": "yes"},
		"mid":   {"command": "echo mid", "user.to.proxy": "root", "retries": "2", "sub.only": "yes"},
		// A folder's properties do not reach up or sideways.
		"top": {"command": "echo top", "user.to.proxy": "root", "retries": "1"},
	}
	for _, n := range top.Nodes {
		if !reflect.DeepEqual(n.Config, want[n.Name]) {
			t.Errorf("%s config = %q, want %q", n.Name, n.Config, want[n.Name])
		}
	}
	other := p.Flow("other")
	if n := other.Nodes[0]; n.Type != TypeNoop || !reflect.DeepEqual(n.Config, map[string]string{"user.to.proxy": "root", "retries": "1"}) {
		t.Errorf("other = %+v", n)
	}
	if top.Dir != "" || other.Dir != "other" {
		t.Errorf("Dir: top %q, other %q; want \"\" and \"other\"", top.Dir, other.Dir)
	}
}

func TestLegacyEmbeddedFlow(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"inner.job":    "type=command\ncommand=echo inner\ndependencies=innerdep\n",
		"innerdep.job": "type=command\ncommand=echo dep\n",
		"outer.job":    "type=flow\nflow.name=inner\n",
		"final.job":    "type=noop\ndependencies=outer\n",
		"twice.job":    "type=flow\nflow.name=final\n",
	})
	// inner is only embedded, never depended on: it is a flow of its own too.
	if got := p.FlowNames(); !slices.Equal(got, []string{"final", "inner", "twice"}) {
		t.Fatalf("flows %q, want [final inner twice]", got)
	}
	tests := map[string]struct {
		nodes []string
		jobs  int
	}{
		"final": {[]string{
			"final noop <- outer",
			"outer flow",
			"outer:inner command <- innerdep $ echo inner",
			"outer:innerdep command $ echo dep",
		}, 3},
		"inner": {[]string{
			"inner command <- innerdep $ echo inner",
			"innerdep command $ echo dep",
		}, 2},
		"twice": {[]string{
			"twice flow",
			"twice:final noop <- outer",
			"twice:outer flow",
			"twice:outer:inner command <- innerdep $ echo inner",
			"twice:outer:innerdep command $ echo dep",
		}, 3},
	}
	for name, tc := range tests {
		f := p.Flow(name)
		if got := describe(f); !slices.Equal(got, tc.nodes) {
			t.Errorf("%s:\ngot  %q\nwant %q", name, got, tc.nodes)
		}
		if got := f.JobCount(); got != tc.jobs {
			t.Errorf("%s: JobCount() = %d, want %d", name, got, tc.jobs)
		}
		if err := checkDAG("", f.Nodes); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	outer := p.Flow("final").Nodes[1]
	if outer.Config["flow.name"] != "inner" {
		t.Errorf("outer config = %q, want flow.name kept", outer.Config)
	}
	// The embedded DAG is a copy: changing it leaves the inner flow alone.
	outer.Nodes[0].Config["command"] = "changed"
	if got := p.Flow("inner").Nodes[0].Config["command"]; got != "echo inner" {
		t.Errorf("inner flow shares nodes with its embedding: command = %q", got)
	}
}

func TestLegacyCondition(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"a.job": "type=command\ncommand=echo a\n",
		"b.job": "type=noop\ndependencies=a\ncondition=all_done\n",
	})
	b := p.Flow("b").Nodes[1]
	if b.Name != "b" || b.Condition != "all_done" {
		t.Errorf("node %q condition = %q, want b with all_done", b.Name, b.Condition)
	}
	if p.Flow("b").Nodes[0].Condition != "" {
		t.Errorf("a has a condition")
	}
}

// With .flow files the project is Flow 2.0 and .job files are ignored.
func TestFlow20WinsOverJobs(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"p.project": project20,
		"f.flow":    "nodes:\n  - {name: a, type: noop}\n",
		"old.job":   "type=hadoopJava\n",
	})
	if p.Format != FormatFlow20 || !slices.Equal(p.FlowNames(), []string{"f"}) {
		t.Errorf("got %s %q, want flow2.0 [f]", p.Format, p.FlowNames())
	}
}

func TestLegacyRefusals(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "duplicate job names in different folders",
			files: map[string]string{"a/x.job": "type=noop\n", "b/x.job": "type=noop\n"},
			want:  []string{`b/x.job: duplicate job name "x": a/x.job has it too`},
		},
		{
			name:  "unknown type",
			files: map[string]string{"wc.job": "type=hadoopJava\njob.class=WordCount\n"},
			want:  []string{`wc.job: job "wc" has unsupported type "hadoopJava" (supported: command, noop, flow)`},
		},
		{
			name:  "unknown type inherited from a folder",
			files: map[string]string{"jobs/common.properties": "type=javaprocess\n", "jobs/a.job": "command=x\n"},
			want:  []string{`jobs/a.job: job "a" has unsupported type "javaprocess"`},
		},
		{
			name:  "missing type",
			files: map[string]string{"a.job": "command=echo\n"},
			want:  []string{`a.job: job "a" has no type`},
		},
		{
			name:  "missing command",
			files: map[string]string{"a.job": "type=command\ncommand.1=echo one\n"},
			want:  []string{`a.job: job "a" has type command but no "command" property`},
		},
		{
			name:  "undefined dependency",
			files: map[string]string{"a.job": "type=noop\ndependencies=b, c\n", "b.job": "type=noop\n"},
			want:  []string{`a.job: job "a" depends on undefined job "c"`},
		},
		{
			name: "cycle",
			files: map[string]string{
				"end.job": "type=noop\ndependencies=a\n",
				"x/a.job": "type=noop\ndependencies=b\n",
				"x/b.job": "type=noop\ndependencies=c\n",
				"x/c.job": "type=noop\ndependencies=a\n",
			},
			want: []string{"x/a.job: dependency cycle: a -> b -> c -> a"},
		},
		{
			name:  "flow without flow.name",
			files: map[string]string{"e.job": "type=flow\n"},
			want:  []string{`e.job: job "e" has type flow but no "flow.name" property`},
		},
		{
			name:  "flow.name of a missing job",
			files: map[string]string{"e.job": "type=flow\nflow.name=nothere\n"},
			want:  []string{`e.job: job "e" embeds flow.name "nothere", but there is no job "nothere"`},
		},
		{
			name:  "flow embedding itself",
			files: map[string]string{"e.job": "type=flow\nflow.name=e\n"},
			want:  []string{"e.job: embedded flows contain themselves: e -> e"},
		},
		{
			name:  "flows embedding each other",
			files: map[string]string{"e1.job": "type=flow\nflow.name=e2\n", "e2.job": "type=flow\nflow.name=e1\n"},
			want:  []string{"e1.job: embedded flows contain themselves: e1 -> e2 -> e1"},
		},
		{
			name:  "job name with a separator",
			files: map[string]string{"a:b.job": "type=noop\n"},
			want:  []string{`a:b.job: job name "a:b" (the file name) must not contain ':'`},
		},
		{
			name:  "only properties",
			files: map[string]string{"common.properties": "type=command\n", "README.md": "hi"},
			want:  []string{"no flow found: add *.flow files with a *.project file, or *.job files"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadBoth(t, tc.files)
			wantRefusal(t, err, tc.want...)
		})
	}
}

// Flows embedded in one another cannot expand into an exponential project.
func TestLegacyEmbeddingBomb(t *testing.T) {
	// Properties shared by every job make each copy weigh more: the limit is
	// reached sooner, and the test stays fast.
	common := ""
	for i := range 50 {
		common += fmt.Sprintf("key%d=value\n", i)
	}
	files := map[string]string{"l00.job": "type=noop\n", "common.properties": common}
	for i := 1; i <= 40; i++ {
		prev := jobName(i - 1)
		files[jobName(i)+"a.job"] = "type=flow\nflow.name=" + prev + "\n"
		files[jobName(i)+"b.job"] = "type=flow\nflow.name=" + prev + "\n"
		files[jobName(i)+".job"] = "type=noop\ndependencies=" + jobName(i) + "a," + jobName(i) + "b\n"
	}
	_, err := loadZip(zipFiles(t, files), Limits{})
	wantRefusal(t, err, "project is too large")
}

func TestLegacyEmbeddingDepth(t *testing.T) {
	chain := func(levels int) map[string]string {
		files := map[string]string{"e00.job": "type=noop\n"}
		for i := 1; i <= levels; i++ {
			files[fmt.Sprintf("e%02d.job", i)] = fmt.Sprintf("type=flow\nflow.name=e%02d\n", i-1)
		}
		return files
	}
	p := mustLoad(t, chain(maxDepth))
	if got := p.Flow(fmt.Sprintf("e%02d", maxDepth)).JobCount(); got != 1 {
		t.Errorf("JobCount() = %d, want 1", got)
	}
	_, err := loadBoth(t, chain(maxDepth+1))
	wantRefusal(t, err, "flows are embedded more than 32 levels deep")
}

func jobName(i int) string { return string([]byte{'l', byte('0' + i/10), byte('0' + i%10)}) }
