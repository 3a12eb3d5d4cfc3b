//go:build unix

package deploytest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/config"
	"github.com/crawlctl/crawlctl/pkg/internal/procstat"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster/harness"
)

// knownBashScripts are the scripts under scripts/ written for bash rather
// than POSIX sh. shellcheck checks them with -s bash at its default severity;
// the crawlctl flag checks skip them (they drive other programs).
var knownBashScripts = map[string]bool{
	"with-test-db.sh": true,
}

// deployScripts are the deployment's start/stop scripts. Their -h prints a
// "usage:" line, they run under `set -eu`, and TestScriptsAgainstCluster
// drives them.
var deployScripts = []string{"start-web.sh", "start-exec.sh", "shutdown-exec.sh", "shutdown-web.sh", "activate-exec.sh"}

// daemonSections maps the sections of configs/crawlctl.yaml to the command
// whose flags they hold.
var daemonSections = map[string][]string{
	"web":      {"web", "serve"},
	"executor": {"executor", "serve"},
	"solo":     {"solo"},
}

var (
	repoRoot   string // the repository checkout
	bin        string // crawlctl built by TestMain
	configHome string // XDG_CONFIG_HOME of every command the tests run
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		fmt.Fprintln(os.Stderr, "deploytest: cannot find the test's source file")
		return 1
	}
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
	dir, err := os.MkdirTemp("", "crawlctl-deploytest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploytest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// crawlctl keeps API tokens under $XDG_CONFIG_HOME: never the real home.
	configHome = filepath.Join(dir, "config")
	if err := os.Mkdir(configHome, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "deploytest:", err)
		return 1
	}
	if _, err := exec.LookPath("go"); err != nil {
		fmt.Fprintln(os.Stderr, "deploytest: the go command is not on PATH; it is needed to build crawlctl")
		return 1
	}
	if bin, err = harness.BuildBinaryIn(context.Background(), dir); err != nil {
		fmt.Fprintln(os.Stderr, "deploytest:", err)
		return 1
	}
	return m.Run()
}

// cleanEnv is the environment without CRAWLCTL_* settings and with
// XDG_CONFIG_HOME pointing into the test's temporary directory, so that the
// machine's own configuration and saved tokens cannot change what the tests
// see (and the tests write no token into the real home).
func cleanEnv() []string { return harness.CleanEnv(configHome) }

// withEnv returns env with the KEY=VALUE settings kvs, replacing earlier
// settings of the same keys.
func withEnv(env []string, kvs ...string) []string {
	out := slices.Clone(env)
	for _, kv := range kvs {
		key, _, _ := strings.Cut(kv, "=")
		out = slices.DeleteFunc(out, func(e string) bool { return strings.HasPrefix(e, key+"=") })
		out = append(out, kv)
	}
	return out
}

// --- crawlctl's own help: the source of truth for commands and flags --------

type cmdHelp struct {
	path    []string        // the command cobra resolved, e.g. [executor serve]
	long    map[string]bool // --name, local and global
	short   map[string]bool // -o
	hasSubs bool            // a command group
	subs    map[string]bool // its subcommands
	text    string
}

var (
	helpMu    sync.Mutex
	helpCache = map[string]*cmdHelp{}

	usageRE   = regexp.MustCompile(`(?m)^Usage:\n\s+\S+((?: [a-z][a-z0-9-]*)*)`)
	flagRE    = regexp.MustCompile(`(?m)^\s+(?:-([A-Za-z0-9]), )?--([a-z0-9][a-z0-9-]*)`)
	subcmdRE  = regexp.MustCompile(`(?m)^  ([a-z][a-z0-9-]*)\s{2,}\S`)
	cmdWordRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	flagArgRE = regexp.MustCompile(`^(?:--[a-z][a-z0-9-]*(?:=.*)?|-[A-Za-z]+)$`)
)

// help runs `crawlctl WORDS... --help` once per distinct WORDS and parses it.
func help(t testing.TB, words []string) *cmdHelp {
	t.Helper()
	key := strings.Join(words, " ")
	helpMu.Lock()
	defer helpMu.Unlock()
	if h, ok := helpCache[key]; ok {
		return h
	}
	cmd := exec.Command(bin, append(slices.Clone(words), "--help")...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("crawlctl %s --help: %v\n%s", key, err, out)
	}
	text := string(out)
	h := &cmdHelp{long: map[string]bool{}, short: map[string]bool{}, subs: map[string]bool{}, text: text}
	m := usageRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("crawlctl %s --help has no Usage: line:\n%s", key, text)
	}
	h.path = strings.Fields(m[1])
	for _, f := range flagRE.FindAllStringSubmatch(text, -1) {
		h.long[f[2]] = true
		if f[1] != "" {
			h.short[f[1]] = true
		}
	}
	if i := strings.Index(text, "Available Commands:"); i >= 0 {
		h.hasSubs = true
		block := text[i:]
		if j := strings.Index(block, "\n\n"); j >= 0 {
			block = block[:j]
		}
		for _, s := range subcmdRE.FindAllStringSubmatch(block, -1) {
			h.subs[s[1]] = true
		}
	}
	helpCache[key] = h
	return h
}

// invocation is crawlctl run with args by one of the deployment files.
type invocation struct {
	where string   // file (and line or container)
	args  []string // the arguments after the binary
}

// commandWords are the leading arguments that look like (sub)command names.
func commandWords(args []string) []string {
	var words []string
	for _, a := range args {
		if !cmdWordRE.MatchString(a) {
			break
		}
		words = append(words, a)
	}
	return words
}

// flagArgs are the arguments that are flags ("--" ends them).
func flagArgs(args []string) []string {
	var flags []string
	for _, a := range args {
		if a == "--" {
			break
		}
		if flagArgRE.MatchString(a) {
			flags = append(flags, a)
		}
	}
	return flags
}

// missingFlags lists the flags that command h does not have.
func missingFlags(h *cmdHelp, flags []string) []string {
	var bad []string
	for _, f := range flags {
		if name, ok := strings.CutPrefix(f, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if !h.long[name] {
				bad = append(bad, "--"+name)
			}
			continue
		}
		for _, c := range f[1:] {
			if !h.short[string(c)] {
				bad = append(bad, "-"+string(c))
			}
		}
	}
	return bad
}

// checkInvocation asserts that the command exists and has every flag used.
// It returns the command path.
func checkInvocation(t *testing.T, inv invocation) string {
	t.Helper()
	words := commandWords(inv.args)
	h := help(t, words)
	if len(h.path) > len(words) || !slices.Equal(h.path, words[:len(h.path)]) {
		t.Errorf("%s: %s resolved to %s", inv.where, cmdName(words), cmdName(h.path))
	}
	if rest := words[min(len(h.path), len(words)):]; h.hasSubs && len(rest) > 0 {
		t.Errorf("%s: %s has no command %q (it has: %s)", inv.where, cmdName(h.path), rest[0], strings.Join(sortedKeys(h.subs), ", "))
	}
	if h.hasSubs && len(words) == len(h.path) && len(words) > 0 {
		t.Errorf("%s: %s is a command group, not a command", inv.where, cmdName(words))
	}
	for _, f := range missingFlags(h, flagArgs(inv.args)) {
		t.Errorf("%s: %s has no flag %s (see %s --help)", inv.where, cmdName(h.path), f, cmdName(h.path))
	}
	return strings.Join(h.path, " ")
}

// cmdName is "crawlctl" followed by a command path.
func cmdName(path []string) string {
	return strings.Join(append([]string{"crawlctl"}, path...), " ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- text in comments and messages: "crawlctl executor list --server URL" ---

var proseRE = regexp.MustCompile(`(?:^|[^\w.-])(?:[\w./-]*/)?crawlctl(?::[\w.-]+)?[ \t]+`)

// proseInvocations finds "crawlctl COMMAND ... --flag" in free text (comments,
// help texts, messages) where COMMAND is one of crawlctl's commands.
func proseInvocations(t *testing.T, where, text string) []invocation {
	t.Helper()
	top := help(t, nil).subs
	var invs []invocation
	for n, line := range strings.Split(text, "\n") {
		for _, m := range proseRE.FindAllStringIndex(line, -1) {
			rest := strings.NewReplacer("`", " ` ", `"`, " ", "'", " ").Replace(line[m[1]:])
			var args []string
			for _, f := range strings.Fields(rest) {
				if f == "`" || f == "|" || f == "||" || f == "&&" || strings.HasPrefix(f, "#") || strings.ContainsAny(f, "();`") {
					break
				}
				args = append(args, f)
			}
			if len(args) == 0 || !top[args[0]] {
				continue
			}
			invs = append(invs, invocation{where: fmt.Sprintf("%s:%d", where, n+1), args: args})
		}
	}
	return invs
}

// checkProse asserts that the flags named in free text exist on the command
// they follow. The command words themselves are prose ("the crawlctl web
// server") and are not judged.
func checkProse(t *testing.T, inv invocation) {
	t.Helper()
	flags := flagArgs(inv.args)
	if len(flags) == 0 {
		return
	}
	h := help(t, commandWords(inv.args))
	for _, f := range missingFlags(h, flags) {
		t.Errorf("%s: the text names %s %s, which has no such flag", inv.where, cmdName(h.path), f)
	}
}

// --- shell scripts -----------------------------------------------------------

var heredocRE = regexp.MustCompile(`<<(-?)\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)

// stripHeredocs blanks here-document bodies (they are text, not commands),
// keeping line numbers.
func stripHeredocs(src string) string {
	lines := strings.Split(src, "\n")
	var pending []string
	var dashes []bool
	for i := 0; i < len(lines); i++ {
		if len(pending) > 0 {
			l := lines[i]
			if dashes[0] {
				l = strings.TrimLeft(l, "\t")
			}
			lines[i] = ""
			if l == pending[0] {
				pending, dashes = pending[1:], dashes[1:]
			}
			continue
		}
		for _, m := range heredocRE.FindAllStringSubmatch(lines[i], -1) {
			pending = append(pending, m[2])
			dashes = append(dashes, m[1] == "-")
		}
	}
	return strings.Join(lines, "\n")
}

type shellToken struct {
	s    string
	op   bool
	line int
}

// shellTokens splits shell source into words (quotes removed) and operators;
// comments are dropped and newlines become ";" operators.
func shellTokens(src string) []shellToken {
	var toks []shellToken
	var cur strings.Builder
	inWord, line, start := false, 1, 1
	flush := func() {
		if inWord {
			toks = append(toks, shellToken{s: cur.String(), line: start})
			cur.Reset()
			inWord = false
		}
	}
	begin := func() {
		if !inWord {
			inWord, start = true, line
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\'':
			begin()
			j := strings.IndexByte(src[i+1:], '\'')
			if j < 0 {
				j = len(src) - i - 1
			}
			cur.WriteString(src[i+1 : i+1+j])
			line += strings.Count(src[i+1:i+1+j], "\n")
			i += j + 1
		case c == '"':
			begin()
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' && i+1 < len(src) {
					i++
				}
				if src[i] == '\n' {
					line++
				}
				cur.WriteByte(src[i])
			}
		case c == '\\':
			if i+1 < len(src) && src[i+1] == '\n' {
				i++
				line++
				flush()
				continue
			}
			begin()
			if i+1 < len(src) {
				i++
				cur.WriteByte(src[i])
			}
		case c == '#' && !inWord:
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case c == ' ' || c == '\t' || c == '\r':
			flush()
		case c == '$' && i+1 < len(src) && src[i+1] == '(':
			flush()
			toks = append(toks, shellToken{s: "$(", op: true, line: line})
			i++
		case strings.IndexByte("\n;|&()<>`", c) >= 0:
			flush()
			toks = append(toks, shellToken{s: string(c), op: true, line: line})
			if c == '\n' {
				line++
			}
		default:
			begin()
			cur.WriteByte(c)
		}
	}
	flush()
	return toks
}

var (
	assignRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	shellKeywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true, "until": true, "!": true, "{": true, "time": true}
	shellWrappers = map[string]bool{"nohup": true, "exec": true, "command": true, "env": true, "nice": true, "setsid": true}
)

// isCrawlctl tells whether a command word runs crawlctl: the binary by name
// or path, or a variable holding it ("$bin").
func isCrawlctl(word string) bool {
	if filepath.Base(word) == "crawlctl" {
		return true
	}
	name := strings.Trim(strings.TrimPrefix(word, "$"), "{}")
	return strings.HasPrefix(word, "$") && (name == "bin" || strings.Contains(strings.ToLower(name), "crawlctl"))
}

// shellInvocations finds the crawlctl commands in shell source.
func shellInvocations(where, src string) []invocation {
	toks := shellTokens(stripHeredocs(src))
	var invs []invocation
	var cmd []shellToken
	end := func() {
		i := 0
		for i < len(cmd) && (shellKeywords[cmd[i].s] || assignRE.MatchString(cmd[i].s) || shellWrappers[cmd[i].s]) {
			i++
		}
		if i < len(cmd) && isCrawlctl(cmd[i].s) {
			var args []string
			for _, tk := range cmd[i+1:] {
				args = append(args, tk.s)
			}
			invs = append(invs, invocation{where: fmt.Sprintf("%s:%d", where, cmd[i].line), args: args})
		}
		cmd = cmd[:0]
	}
	for _, tk := range toks {
		if tk.op {
			end()
			continue
		}
		cmd = append(cmd, tk)
	}
	end()
	return invs
}

var longOptRE = regexp.MustCompile(`(?:^|[^\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`)

// scriptNames lists scripts/*.sh.
func scriptNames(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "scripts", "*.sh"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts/*.sh (%v)", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	return names
}

func scriptPath(name string) string { return filepath.Join(repoRoot, "scripts", name) }

// runScript runs scripts/NAME in dir and returns its exit code and output.
func runScript(t *testing.T, dir, name string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runScriptEnv(t, dir, cleanEnv(), name, args...)
}

// runScriptEnv is runScript with the environment env.
func runScriptEnv(t *testing.T, dir string, env []string, name string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCommand(t, dir, env, scriptPath(name), args...)
}

// runCommand runs a program in dir with the environment env and returns its
// exit code and output.
func runCommand(t *testing.T, dir string, env []string, name string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// A daemon left holding the pipes must not hang the test.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(name), strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return code, out.String(), errOut.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func rel(path string) string {
	if r, err := filepath.Rel(repoRoot, path); err == nil {
		return r
	}
	return path
}

// badUsage are invocations each deploy script must refuse with exit 2.
// (start-web.sh and start-exec.sh pass unknown arguments on to crawlctl.)
var badUsage = map[string][]string{
	"start-web.sh":     {"--timeout", "soon"},
	"start-exec.sh":    {"--timeout", "soon"},
	"shutdown-exec.sh": {"--no-such-option"},
	"shutdown-web.sh":  {"--no-such-option"},
	"activate-exec.sh": {"--no-such-option"},
}

func TestScriptsHelp(t *testing.T) {
	dir := t.TempDir()
	for _, name := range scriptNames(t) {
		t.Run(name, func(t *testing.T) {
			st, err := os.Stat(scriptPath(name))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode()&0o111 == 0 {
				t.Errorf("scripts/%s is not executable", name)
			}
			code, out, errOut := runScript(t, dir, name, "-h")
			if code != 0 || strings.TrimSpace(out) == "" {
				t.Fatalf("%s -h: exit %d, stdout %q, stderr %q; want exit 0 and a usage text", name, code, out, errOut)
			}
			if strings.Contains(out, "set -e") {
				t.Errorf("%s -h prints a line of the script itself:\n%s", name, out)
			}
			if !slices.Contains(deployScripts, name) {
				return
			}
			if !strings.HasPrefix(out, "usage: "+name) {
				t.Errorf("%s -h: first line %q, want \"usage: %s ...\"", name, strings.SplitN(out, "\n", 2)[0], name)
			}
			if code, out2, _ := runScript(t, dir, name, "--help"); code != 0 || out2 != out {
				t.Errorf("%s --help: exit %d, output differs from -h", name, code)
			}
			src := readFile(t, scriptPath(name))
			if !strings.HasPrefix(src, "#!/bin/sh\n") {
				t.Errorf("scripts/%s: first line is not #!/bin/sh", name)
			}
			if !regexp.MustCompile(`(?m)^set -eu$`).MatchString(src) {
				t.Errorf("scripts/%s: no `set -eu`", name)
			}
			bad := badUsage[name]
			if code, _, errOut := runScript(t, dir, name, bad...); code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || errOut == "" {
				t.Errorf("%s %s: exit %d, stderr %q; want exit 2 and a one-line error", name, strings.Join(bad, " "), code, errOut)
			}
		})
	}
}

// TestScriptFlags checks that the scripts use only flags crawlctl has: in
// their crawlctl commands ("$bin" web serve ...), in the flags they look for
// among the ones they pass on (--listen, --port-file), and in their texts.
func TestScriptFlags(t *testing.T) {
	want := map[string][]string{
		"start-web.sh":  {"web serve"},
		"start-exec.sh": {"executor serve", "executor activate"},
	}
	dir := t.TempDir()
	for _, name := range scriptNames(t) {
		if knownBashScripts[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			src := readFile(t, scriptPath(name))
			allowed := map[string]bool{"help": true}
			seen := map[string]bool{}
			for _, inv := range shellInvocations("scripts/"+name, src) {
				path := checkInvocation(t, inv)
				seen[path] = true
				for f := range help(t, commandWords(inv.args)).long {
					allowed[f] = true
				}
			}
			for _, w := range want[name] {
				if !seen[w] {
					t.Errorf("scripts/%s: found no `crawlctl %s` command (found %v)", name, w, sortedKeys(seen))
				}
			}
			if len(seen) == 0 {
				// Scripts that only manage the daemons may name their flags.
				for _, c := range [][]string{{"web", "serve"}, {"executor", "serve"}} {
					for f := range help(t, c).long {
						allowed[f] = true
					}
				}
			}
			// Commands its texts name ("create the first admin with
			// crawlctl user add admin --role admin") may show their flags;
			// checkProse below holds them to that command.
			for _, inv := range proseInvocations(t, "scripts/"+name, src) {
				for f := range help(t, commandWords(inv.args)).long {
					allowed[f] = true
				}
			}
			// The script's own options are those of its synopsis line.
			_, out, _ := runScript(t, dir, name, "-h")
			synopsis := strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
			for _, m := range longOptRE.FindAllStringSubmatch(synopsis, -1) {
				allowed[m[1]] = true
			}
			for n, line := range strings.Split(src, "\n") {
				for _, m := range longOptRE.FindAllStringSubmatch(line, -1) {
					if !allowed[m[1]] {
						t.Errorf("scripts/%s:%d: --%s is neither an option of %s (%q) nor a flag of the crawlctl commands it runs", name, n+1, m[1], name, synopsis)
					}
				}
			}
			for _, inv := range proseInvocations(t, "scripts/"+name, src) {
				checkProse(t, inv)
			}
		})
	}
}

// --- shellcheck ------------------------------------------------------------------

var shellcheckOnce sync.Once

// needShellcheck returns the shellcheck binary, installing it with apt-get
// when running as root; without it the test fails under CI=true and is
// skipped otherwise.
func needShellcheck(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("shellcheck"); err == nil {
		return p
	}
	shellcheckOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		if _, err := exec.LookPath("apt-get"); err != nil {
			return
		}
		cmd := exec.Command("sh", "-c", "apt-get update -qq && apt-get install -y -qq shellcheck")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("apt-get install shellcheck: %v\n%s", err, out)
		}
	})
	if p, err := exec.LookPath("shellcheck"); err == nil {
		return p
	}
	const hint = "shellcheck is not installed: apt-get install shellcheck (Debian/Ubuntu), brew install shellcheck (macOS)"
	if os.Getenv("CI") == "true" {
		t.Fatal(hint)
	}
	t.Skip(hint)
	return ""
}

func TestShellcheck(t *testing.T) {
	sc := needShellcheck(t)
	for _, name := range scriptNames(t) {
		t.Run(name, func(t *testing.T) {
			args := []string{scriptPath(name)}
			if knownBashScripts[name] {
				args = []string{"-s", "bash", scriptPath(name)}
			}
			if out, err := exec.Command(sc, args...).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
	// The shell snippets inside the units and manifests (activation loops).
	for _, s := range inlineScripts(t) {
		t.Run(s.where, func(t *testing.T) {
			cmd := exec.Command(sc, "-s", "sh", "-")
			cmd.Stdin = strings.NewReader(s.script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("shellcheck of the script in %s: %v\n%s\nscript:\n%s", s.where, err, out, s.script)
			}
		})
	}
}

// TestSecretNotOnCommandLine checks that the scripts and the units' and
// manifests' inline scripts never put the cluster secret (or the
// Authorization header holding it) in the arguments of a program, where ps
// would show it: only the shell's built-ins (printf, echo, test) may see it,
// and curl gets the header on its standard input (curl -H @-).
func TestSecretNotOnCommandLine(t *testing.T) {
	sources := []inlineScript{}
	for _, name := range deployScripts {
		sources = append(sources, inlineScript{where: "scripts/" + name, script: readFile(t, scriptPath(name))})
	}
	sources = append(sources, inlineScripts(t)...)
	for _, src := range sources {
		bad, headers := secretArgs(src.script)
		for _, b := range bad {
			t.Errorf("%s: %s", src.where, b)
		}
		if strings.Contains(src.script, "action=activate") && headers == 0 {
			t.Errorf("%s activates an executor but builds no Authorization: Bearer header (in printf or a here-document) for curl -H @-", src.where)
		}
	}
	// The checker itself: it must catch the obvious mistakes.
	for _, leak := range []string{
		`curl -H "Authorization: Bearer $secret" http://127.0.0.1:1/executor?action=activate`,
		`curl -H "Authorization: Bearer $(cat /etc/crawlctl/cluster.secret)" "$url"`,
		"x=$(curl -fsS --header \"Authorization: Bearer $CRAWLCTL_CLUSTER_SECRET\" \"$url\")",
		`/usr/bin/printf 'Authorization: Bearer %s' "$s" | curl -H @- "$url"`,
		`wget --header="Authorization: Bearer ${CRAWLCTL_CLUSTER_SECRET}" "$url"`,
		"curl_auth() { curl \"$@\"; }\ncurl_auth -H \"Authorization: Bearer $secret\" \"$url\"",
	} {
		if bad, _ := secretArgs(leak); len(bad) == 0 {
			t.Errorf("secretArgs missed the secret on the command line of %q", leak)
		}
	}
}

var (
	secretWordRE = regexp.MustCompile(`Authorization|Bearer|\$\{?CRAWLCTL_CLUSTER_SECRET(?:[^_A-Z0-9]|$)`)
	shellBuiltin = map[string]bool{"printf": true, "echo": true, "[": true, "test": true, ":": true}
	headerDocRE  = regexp.MustCompile(`^\s*Authorization: Bearer \$`)
)

// secretArgs returns the commands of shell source that pass the cluster
// secret or its Authorization header as arguments to a program (anything
// but a shell built-in), and how many built-ins and here-documents build the
// header.
func secretArgs(src string) (bad []string, headers int) {
	var cmd []shellToken
	end := func() {
		defer func() { cmd = cmd[:0] }()
		i := 0
		for i < len(cmd) && (shellKeywords[cmd[i].s] || assignRE.MatchString(cmd[i].s)) {
			i++
		}
		if i == len(cmd) {
			return
		}
		for _, tk := range cmd[i+1:] {
			if !secretWordRE.MatchString(tk.s) {
				continue
			}
			// A function of the script counts as a program: it may
			// hand its arguments on to one.
			if shellBuiltin[cmd[i].s] {
				if strings.Contains(tk.s, "Authorization: Bearer") {
					headers++
				}
				continue
			}
			bad = append(bad, fmt.Sprintf("line %d: %s gets %q as an argument, visible in ps: pass it on standard input (curl -H @-) instead", cmd[i].line, cmd[i].s, tk.s))
			return
		}
	}
	stripped := stripHeredocs(src)
	for _, tk := range shellTokens(stripped) {
		if tk.op {
			end()
			continue
		}
		cmd = append(cmd, tk)
	}
	end()
	// Here-documents are written by the shell itself: count the headers
	// built there (the lines stripHeredocs blanked).
	orig, blanked := strings.Split(src, "\n"), strings.Split(stripped, "\n")
	for i := range orig {
		if i < len(blanked) && blanked[i] == "" && headerDocRE.MatchString(orig[i]) {
			headers++
		}
	}
	return bad, headers
}

type inlineScript struct{ where, script string }

// inlineScripts are the `sh -c` scripts of the systemd units and the
// Kubernetes manifests.
func inlineScripts(t *testing.T) []inlineScript {
	t.Helper()
	var out []inlineScript
	for _, u := range units(t) {
		for _, e := range u.exec() {
			if s, ok := shScript(e.argv); ok {
				out = append(out, inlineScript{where: e.where, script: s})
			}
		}
	}
	for _, c := range k8sContainers(t) {
		for _, e := range c.execs {
			if s, ok := shScript(e.argv); ok {
				out = append(out, inlineScript{where: e.where, script: s})
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("found no inline sh -c scripts in configs/systemd or configs/k8s (the activation loops)")
	}
	return out
}

// shScript returns the script of ["/bin/sh", "-c", script, ...].
func shScript(argv []string) (string, bool) {
	if len(argv) >= 3 && (filepath.Base(argv[0]) == "sh" || filepath.Base(argv[0]) == "bash") && argv[1] == "-c" {
		return argv[2], true
	}
	return "", false
}

// --- systemd -----------------------------------------------------------------------

type unitFile struct {
	path     string
	sections map[string]map[string][]string
	lines    map[string]int // "Section.Key" -> line of its last value
}

type execLine struct {
	where string
	argv  []string
}

func (u *unitFile) get(section, key string) []string { return u.sections[section][key] }

func (u *unitFile) one(section, key string) string {
	v := u.get(section, key)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// exec returns the command lines of the unit's Exec*= settings, with
// systemd's prefixes and $$ escapes undone.
func (u *unitFile) exec() []execLine {
	var out []execLine
	for _, key := range sortedKeys(u.sections["Service"]) {
		if !strings.HasPrefix(key, "Exec") {
			continue
		}
		for _, v := range u.sections["Service"][key] {
			argv := splitSystemdWords(v)
			if len(argv) == 0 {
				continue
			}
			argv[0] = strings.TrimLeft(argv[0], "-@:+!")
			for i := range argv {
				argv[i] = strings.ReplaceAll(strings.ReplaceAll(argv[i], "$$", "$"), "%%", "%")
			}
			out = append(out, execLine{where: fmt.Sprintf("%s %s=", rel(u.path), key), argv: argv})
		}
	}
	return out
}

// splitSystemdWords splits a command line the way systemd does: by white
// space, with '...' and "..." quoting.
func splitSystemdWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case (c == '\'' || c == '"') && !inWord:
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				j = len(s) - i - 1
			}
			words = append(words, s[i+1:i+1+j])
			i += j + 1
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

var (
	unitSectionRE = regexp.MustCompile(`^\[([A-Za-z][A-Za-z0-9-]*)\]$`)
	unitKeyRE     = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*)=(.*)$`)
)

// parseUnit reads a unit as INI: every non-blank, non-comment line is a
// [Section] or Key=Value (a trailing backslash continues the line).
func parseUnit(t *testing.T, path string) *unitFile {
	t.Helper()
	u := &unitFile{path: path, sections: map[string]map[string][]string{}, lines: map[string]int{}}
	section := ""
	lines := strings.Split(readFile(t, path), "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(lines[i])
		}
		if m := unitSectionRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			if u.sections[section] == nil {
				u.sections[section] = map[string][]string{}
			}
			continue
		}
		m := unitKeyRE.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("%s:%d: neither [Section] nor Key=Value: %q", rel(path), n, line)
			continue
		}
		if section == "" {
			t.Errorf("%s:%d: %s= before any [Section]", rel(path), n, m[1])
			continue
		}
		u.sections[section][m[1]] = append(u.sections[section][m[1]], m[2])
		u.lines[section+"."+m[1]] = n
	}
	return u
}

func unitPaths(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "configs", "systemd", "*.service"))
	if err != nil || len(paths) < 2 {
		t.Fatalf("want the two units in configs/systemd, found %v (%v)", paths, err)
	}
	return paths
}

func units(t *testing.T) []*unitFile {
	t.Helper()
	var us []*unitFile
	for _, p := range unitPaths(t) {
		us = append(us, parseUnit(t, p))
	}
	return us
}

// defaultDrain is executor serve's default --drain-timeout.
func defaultDrain(t *testing.T) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`--drain-timeout duration .*\(default ([^)]+)\)`).FindStringSubmatch(help(t, []string{"executor", "serve"}).text)
	if m == nil {
		t.Fatal("executor serve --help shows no default for --drain-timeout")
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// flagValue returns the value given to --name in args.
func flagValue(args []string, name string) (string, bool) {
	val, found := "", false
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			val, found = args[i+1], true
		} else if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			val, found = v, true
		}
	}
	return val, found
}

func TestSystemdUnits(t *testing.T) {
	common := map[string]string{
		"Type":            "simple",
		"User":            "crawlctl",
		"EnvironmentFile": "-/etc/crawlctl/crawlctl.env",
		"Restart":         "on-failure",
		"NoNewPrivileges": "yes",
		"ProtectSystem":   "full",
		"PrivateTmp":      "yes",
	}
	byName := map[string]*unitFile{}
	for _, u := range units(t) {
		byName[filepath.Base(u.path)] = u
		for k, v := range common {
			if got := u.one("Service", k); got != v {
				t.Errorf("%s: %s=%q, want %q", rel(u.path), k, got, v)
			}
		}
		for _, s := range []string{"Unit", "Service", "Install"} {
			if u.sections[s] == nil {
				t.Errorf("%s: no [%s] section", rel(u.path), s)
			}
		}
		for _, e := range u.exec() {
			if script, ok := shScript(e.argv); ok {
				for _, inv := range shellInvocations(e.where, script) {
					checkInvocation(t, inv)
				}
				continue
			}
			if filepath.Base(e.argv[0]) != "crawlctl" {
				continue
			}
			if e.argv[0] != "/usr/local/bin/crawlctl" {
				t.Errorf("%s runs %s, want /usr/local/bin/crawlctl", e.where, e.argv[0])
			}
			checkInvocation(t, invocation{where: e.where, args: e.argv[1:]})
		}
		for _, inv := range proseInvocations(t, rel(u.path), readFile(t, u.path)) {
			checkProse(t, inv)
		}
	}

	web := byName["crawlctl-web.service"]
	exe := byName["crawlctl-executor.service"]
	if web == nil || exe == nil {
		t.Fatalf("want crawlctl-web.service and crawlctl-executor.service in configs/systemd, have %v", sortedKeys(byName))
	}
	want := func(u *unitFile, key string, argsPrefix ...string) []string {
		t.Helper()
		for _, e := range u.exec() {
			if strings.HasPrefix(e.where, rel(u.path)+" "+key+"=") && filepath.Base(e.argv[0]) == "crawlctl" && slices.Equal(commandWords(e.argv[1:]), argsPrefix) {
				if v, _ := flagValue(e.argv, "config"); v != "/etc/crawlctl/crawlctl.yaml" {
					t.Errorf("%s: crawlctl %s without --config /etc/crawlctl/crawlctl.yaml", e.where, strings.Join(argsPrefix, " "))
				}
				return e.argv
			}
		}
		t.Errorf("%s: no %s=/usr/local/bin/crawlctl %s", rel(u.path), key, strings.Join(argsPrefix, " "))
		return nil
	}
	migrateArgv := want(web, "ExecStartPre", "migrate", "up")
	webArgv := want(web, "ExecStart", "web", "serve")
	for _, e := range exe.exec() {
		if strings.Contains(e.where, "ExecStartPre=") {
			t.Errorf("%s: only the web unit migrates the schema", e.where)
		}
	}
	argv := want(exe, "ExecStart", "executor", "serve")
	portFile, _ := flagValue(argv, "port-file")
	if portFile != "/run/crawlctl/executor.port" {
		t.Errorf("%s: ExecStart --port-file %q, want /run/crawlctl/executor.port", rel(exe.path), portFile)
	}
	if got := exe.one("Service", "RuntimeDirectory"); got != "crawlctl" {
		t.Errorf("%s: RuntimeDirectory=%q, want crawlctl (for %s)", rel(exe.path), got, portFile)
	}
	if got := exe.one("Service", "WorkingDirectory"); got != "/var/lib/crawlctl" {
		t.Errorf("%s: WorkingDirectory=%q, want /var/lib/crawlctl", rel(exe.path), got)
	}
	if got := exe.one("Service", "KillSignal"); got != "SIGTERM" {
		t.Errorf("%s: KillSignal=%q, want SIGTERM", rel(exe.path), got)
	}
	// Only the executor gets SIGTERM; its jobs must live through the drain.
	if got := exe.one("Service", "KillMode"); got != "mixed" {
		t.Errorf("%s: KillMode=%q, want mixed (SIGTERM to the executor only, so running jobs can drain)", rel(exe.path), got)
	}
	stop, err := strconv.Atoi(exe.one("Service", "TimeoutStopSec"))
	if err != nil || time.Duration(stop)*time.Second <= defaultDrain(t) {
		t.Errorf("%s: TimeoutStopSec=%q, want more than the default --drain-timeout %s", rel(exe.path), exe.one("Service", "TimeoutStopSec"), defaultDrain(t))
	}
	post := exe.get("Service", "ExecStartPost")
	if len(post) != 1 || !strings.Contains(post[0], portFile) || !strings.Contains(post[0], "action=activate") || !strings.Contains(post[0], "action=ping") {
		t.Errorf("%s: want one ExecStartPost= that waits for %s, pings and activates; have %q", rel(exe.path), portFile, post)
	}
	// Both daemons authenticate with the same secret file; the activation
	// sends it, as a header curl reads from its standard input.
	for _, d := range []struct {
		u    *unitFile
		argv []string
	}{{web, webArgv}, {exe, argv}} {
		if v, _ := flagValue(d.argv, "cluster-secret-file"); v != clusterSecretPath {
			t.Errorf("%s: ExecStart --cluster-secret-file %q, want %s", rel(d.u.path), v, clusterSecretPath)
		}
		// The DSN is a file too, never in the daemons' environment.
		if v, _ := flagValue(d.argv, "db-file"); v != dbFilePath {
			t.Errorf("%s: ExecStart --db-file %q, want %s", rel(d.u.path), v, dbFilePath)
		}
		if slices.ContainsFunc(d.argv, func(a string) bool { return strings.HasPrefix(a, "--insecure") }) {
			t.Errorf("%s: ExecStart runs with --insecure", rel(d.u.path))
		}
	}
	if v, _ := flagValue(migrateArgv, "db-file"); v != dbFilePath {
		t.Errorf("%s: ExecStartPre migrate up --db-file %q, want %s", rel(web.path), v, dbFilePath)
	}
	if env := readFile(t, filepath.Join(filepath.Dir(web.path), "crawlctl.env.example")); regexp.MustCompile(`(?m)^CRAWLCTL_(DB|CLUSTER_SECRET)=`).MatchString(env) {
		t.Errorf("configs/systemd/crawlctl.env.example sets a secret: keep it in its file")
	}
	if len(post) == 1 && (!strings.Contains(post[0], clusterSecretPath) || !strings.Contains(post[0], "Authorization: Bearer") || !strings.Contains(post[0], "-H @-")) {
		t.Errorf("%s: ExecStartPost= must read %s and send it as \"Authorization: Bearer\" on curl's standard input (-H @-); have %q", rel(exe.path), clusterSecretPath, post[0])
	}
	webText := readFile(t, web.path)
	for _, step := range []string{
		"head -c 32 /dev/urandom | base64 > " + clusterSecretPath,
		"chmod 600 " + clusterSecretPath,
		"chown crawlctl:crawlctl " + clusterSecretPath,
		"user add admin --role admin",
	} {
		if !strings.Contains(webText, step) {
			t.Errorf("%s: the install steps do not show %q", rel(web.path), step)
		}
	}
	if len(web.get("Service", "ExecStartPost")) != 0 || web.one("Service", "RuntimeDirectory") != "" {
		t.Errorf("%s: the web unit needs no ExecStartPost= or RuntimeDirectory=", rel(web.path))
	}

	t.Run("systemd-analyze", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Log("systemd-analyze is not available: the units were checked as INI only")
			return
		}
		// verify insists that the binaries exist: point the units at ours.
		dir := t.TempDir()
		var copies []string
		for _, p := range unitPaths(t) {
			src := strings.ReplaceAll(readFile(t, p), "/usr/local/bin/crawlctl", bin)
			dst := filepath.Join(dir, filepath.Base(p))
			if err := os.WriteFile(dst, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			copies = append(copies, dst)
		}
		cmd := exec.Command(sa, append([]string{"verify"}, copies...)...)
		out, err := cmd.CombinedOutput()
		// verify exits 0 on unknown keys and bad values but prints them:
		// any line about our units is a failure.
		var ours []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			for _, c := range copies {
				if line != "" && (strings.Contains(line, c) || strings.HasPrefix(line, filepath.Base(c)+":")) {
					ours = append(ours, line)
					break
				}
			}
		}
		switch {
		case len(ours) > 0:
			t.Errorf("systemd-analyze verify:\n%s", strings.Join(ours, "\n"))
		case err != nil:
			t.Logf("systemd-analyze verify could not run here (%v), nothing about the units:\n%s", err, out)
		case len(out) > 0:
			t.Logf("systemd-analyze verify:\n%s", out)
		}
	})
}

// --- YAML and Kubernetes ---------------------------------------------------------

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Errorf("%s: document %d: %v", rel(path), len(docs)+1, err)
			break
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	return docs
}

func TestYAMLParses(t *testing.T) {
	var n int
	err := filepath.WalkDir(filepath.Join(repoRoot, "configs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
			return nil
		}
		n++
		docs := yamlDocs(t, p)
		if len(docs) == 0 {
			t.Errorf("%s: no YAML documents", rel(p))
		}
		if filepath.Base(filepath.Dir(p)) == "k8s" {
			for i, d := range docs {
				if s, _ := d["apiVersion"].(string); s == "" {
					t.Errorf("%s: document %d has no apiVersion", rel(p), i+1)
				}
				if s, _ := d["kind"].(string); s == "" {
					t.Errorf("%s: document %d has no kind", rel(p), i+1)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Errorf("found %d YAML files under configs/, want crawlctl.yaml and the k8s manifests", n)
	}
}

type k8sObject struct {
	file string
	doc  map[string]any
}

func (o k8sObject) kind() string { s, _ := o.doc["kind"].(string); return s }
func (o k8sObject) name() string { s, _ := dig(o.doc, "metadata", "name").(string); return s }

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func k8sObjects(t *testing.T) []k8sObject {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "configs", "k8s", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no configs/k8s/*.yaml (%v)", err)
	}
	var objs []k8sObject
	for _, p := range paths {
		for _, d := range yamlDocs(t, p) {
			objs = append(objs, k8sObject{file: rel(p), doc: d})
		}
	}
	return objs
}

type k8sContainer struct {
	obj   k8sObject
	where string
	spec  map[string]any
	execs []execLine // exec hooks and probes
}

// podSpec returns the pod template of a workload.
func podSpec(o k8sObject) map[string]any {
	var v any
	switch o.kind() {
	case "Pod":
		v = o.doc["spec"]
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		v = dig(o.doc, "spec", "template", "spec")
	case "CronJob":
		v = dig(o.doc, "spec", "jobTemplate", "spec", "template", "spec")
	}
	m, _ := v.(map[string]any)
	return m
}

func k8sContainers(t *testing.T) []k8sContainer {
	t.Helper()
	var out []k8sContainer
	for _, o := range k8sObjects(t) {
		ps := podSpec(o)
		for _, list := range []string{"initContainers", "containers"} {
			cs, _ := ps[list].([]any)
			for _, c := range cs {
				cm, _ := c.(map[string]any)
				where := fmt.Sprintf("%s %s/%s container %v", o.file, o.kind(), o.name(), cm["name"])
				kc := k8sContainer{obj: o, where: where, spec: cm}
				for _, hook := range []string{"postStart", "preStop"} {
					if argv := strs(dig(cm, "lifecycle", hook, "exec", "command")); len(argv) > 0 {
						kc.execs = append(kc.execs, execLine{where: where + " " + hook, argv: argv})
					}
				}
				for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
					if argv := strs(dig(cm, probe, "exec", "command")); len(argv) > 0 {
						kc.execs = append(kc.execs, execLine{where: where + " " + probe, argv: argv})
					}
				}
				out = append(out, kc)
			}
		}
	}
	return out
}

// crawlctlArgs returns the arguments crawlctl gets in a container: the
// image's entrypoint is crawlctl unless command says otherwise.
func (c k8sContainer) crawlctlArgs() ([]string, bool) {
	command, args := strs(c.spec["command"]), strs(c.spec["args"])
	switch {
	case len(command) > 0 && filepath.Base(command[0]) == "crawlctl":
		return append(command[1:], args...), true
	case len(command) == 0:
		image, _ := c.spec["image"].(string)
		return args, strings.Contains(image, "crawlctl")
	}
	return nil, false
}

// mountedSecret returns the path at which container c sees key of the Secret
// named secret, or "" when it does not mount it.
func mountedSecret(c k8sContainer, secret, key string) string {
	vols, _ := podSpec(c.obj)["volumes"].([]any)
	mounts, _ := c.spec["volumeMounts"].([]any)
	for _, v := range vols {
		if dig(v, "secret", "secretName") != secret {
			continue
		}
		for _, m := range mounts {
			if dig(m, "name") == dig(v, "name") {
				p, _ := dig(m, "mountPath").(string)
				return p + "/" + key
			}
		}
	}
	return ""
}

func TestKubernetesManifests(t *testing.T) {
	objs := k8sObjects(t)
	find := func(kind, name string) k8sObject {
		t.Helper()
		for _, o := range objs {
			if o.kind() == kind && o.name() == name {
				return o
			}
		}
		t.Fatalf("configs/k8s: no %s %s", kind, name)
		return k8sObject{}
	}
	if r := dig(find("Deployment", "crawlctl-web").doc, "spec", "replicas"); r != 2 {
		t.Errorf("Deployment crawlctl-web: replicas %v, want 2", r)
	}
	sts := find("StatefulSet", "crawlctl-executor")
	if r := dig(sts.doc, "spec", "replicas"); r != 3 {
		t.Errorf("StatefulSet crawlctl-executor: replicas %v, want 3", r)
	}
	if s := dig(sts.doc, "spec", "serviceName"); s != "crawlctl-executor" {
		t.Errorf("StatefulSet crawlctl-executor: serviceName %v, want crawlctl-executor (stable host names)", s)
	}
	if c := dig(find("Service", "crawlctl-executor").doc, "spec", "clusterIP"); c != "None" {
		t.Errorf("Service crawlctl-executor: clusterIP %v, want None (headless)", c)
	}
	if p, _ := dig(find("Service", "crawlctl-web").doc, "spec", "ports").([]any); len(p) != 1 || dig(p[0], "port") != 8081 {
		t.Errorf("Service crawlctl-web: ports %v, want 8081", p)
	}
	sec := find("Secret", "crawlctl-db")
	if dig(sec.doc, "stringData", "db.dsn") == nil && dig(sec.doc, "data", "db.dsn") == nil {
		t.Errorf("Secret crawlctl-db has no key db.dsn")
	}
	cluster := find("Secret", "crawlctl-cluster")
	if dig(cluster.doc, "stringData", "cluster.secret") == nil && dig(cluster.doc, "data", "cluster.secret") == nil {
		t.Errorf("Secret crawlctl-cluster has no key cluster.secret")
	}
	if v, _ := dig(cluster.doc, "stringData", "cluster.secret").(string); v != "" {
		t.Errorf("%s: Secret crawlctl-cluster holds a fixed cluster.secret %q: ship it empty and create it with a random value", cluster.file, v)
	}
	if g, _ := dig(sts.doc, "spec", "template", "spec", "terminationGracePeriodSeconds").(int); time.Duration(g)*time.Second <= defaultDrain(t) {
		t.Errorf("StatefulSet crawlctl-executor: terminationGracePeriodSeconds %d, want more than the default --drain-timeout %s", g, defaultDrain(t))
	}

	paths := map[string]bool{}
	usesCurl := false
	for _, c := range k8sContainers(t) {
		args, ok := c.crawlctlArgs()
		if !ok {
			t.Errorf("%s does not run crawlctl", c.where)
			continue
		}
		path := checkInvocation(t, invocation{where: c.where, args: args})
		paths[c.obj.kind()+" "+path] = true
		// Secrets are files, never environment variables: jobs and
		// everything else a daemon starts must not inherit them. The
		// kubelet makes them readable by the pod's fsGroup, which must be
		// the group the daemon runs as (it refuses files another group can
		// read).
		if envFrom, _ := c.spec["envFrom"].([]any); len(envFrom) > 0 {
			t.Errorf("%s: envFrom %v: give secrets as mounted files", c.where, envFrom)
		}
		env, _ := c.spec["env"].([]any)
		for _, e := range env {
			if n, _ := dig(e, "name").(string); n == "CRAWLCTL_DB" || n == "CRAWLCTL_CLUSTER_SECRET" || dig(e, "valueFrom", "secretKeyRef") != nil {
				t.Errorf("%s: env %s from a secret: mount it as a file instead", c.where, n)
			}
		}
		if want := mountedSecret(c, "crawlctl-db", "db.dsn"); want == "" {
			t.Errorf("%s: does not mount Secret crawlctl-db", c.where)
		} else if v, _ := flagValue(args, "db-file"); v != want {
			t.Errorf("%s: --db-file %q, want %s (Secret crawlctl-db)", c.where, v, want)
		}
		if g := dig(podSpec(c.obj), "securityContext", "fsGroup"); g == nil || g != dig(podSpec(c.obj), "securityContext", "runAsGroup") {
			t.Errorf("%s: fsGroup %v, want the runAsGroup, which may read the mounted secrets", c.where, g)
		}
		for _, e := range c.execs {
			if s, ok := shScript(e.argv); ok {
				usesCurl = usesCurl || strings.Contains(s, "curl ")
				for _, inv := range shellInvocations(e.where, s) {
					checkInvocation(t, inv)
				}
			}
		}
		if path == "web serve" || path == "executor serve" {
			if want := mountedSecret(c, "crawlctl-cluster", "cluster.secret"); want == "" {
				t.Errorf("%s: does not mount Secret crawlctl-cluster", c.where)
			} else if v, _ := flagValue(args, "cluster-secret-file"); v != want {
				t.Errorf("%s: --cluster-secret-file %q, want %s (Secret crawlctl-cluster)", c.where, v, want)
			}
			if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--insecure") }) {
				t.Errorf("%s: runs with --insecure", c.where)
			}
		}
		switch path {
		case "user add":
			if v, _ := flagValue(args, "role"); v != "admin" {
				t.Errorf("%s: crawlctl user add with --role %q, want admin (the first admin)", c.where, v)
			}
		case "web serve":
			if v, _ := flagValue(args, "listen"); v != "0.0.0.0:8081" {
				t.Errorf("%s: --listen %q, want 0.0.0.0:8081", c.where, v)
			}
			if dig(c.spec, "readinessProbe", "httpGet", "path") != "/readyz" || dig(c.spec, "livenessProbe", "httpGet", "path") != "/healthz" {
				t.Errorf("%s: want readinessProbe GET /readyz and livenessProbe GET /healthz", c.where)
			}
		case "executor serve":
			pf, _ := flagValue(args, "port-file")
			host, _ := flagValue(args, "host")
			name, _ := flagValue(args, "name")
			if pf == "" || host != "$(POD_NAME).crawlctl-executor" || name != "$(POD_NAME)" {
				t.Errorf("%s: want --port-file, --host $(POD_NAME).crawlctl-executor, --name $(POD_NAME); have %q", c.where, args)
			}
			if p, _ := dig(c.spec, "readinessProbe", "httpGet", "path").(string); p != "/executor?action=ping" {
				t.Errorf("%s: readinessProbe path %q, want /executor?action=ping", c.where, p)
			}
			var activates, authenticates bool
			for _, e := range c.execs {
				if s, ok := shScript(e.argv); ok && strings.HasSuffix(e.where, "postStart") && strings.Contains(s, pf) && strings.Contains(s, "action=activate") {
					activates = true
					authenticates = strings.Contains(s, mountedSecret(c, "crawlctl-cluster", "cluster.secret")) && strings.Contains(s, "Authorization: Bearer") && strings.Contains(s, "-H @-")
				}
			}
			if !activates {
				t.Errorf("%s: want a postStart hook that reads %s and activates the executor", c.where, pf)
			} else if !authenticates {
				t.Errorf("%s: the postStart hook must read the cluster secret file and send it as \"Authorization: Bearer\" on curl's standard input (-H @-)", c.where)
			}
			var podName bool
			env, _ := c.spec["env"].([]any)
			for _, e := range env {
				if dig(e, "name") == "POD_NAME" && dig(e, "valueFrom", "fieldRef", "fieldPath") == "metadata.name" {
					podName = true
				}
			}
			if !podName {
				t.Errorf("%s: no env POD_NAME from metadata.name", c.where)
			}
		}
	}
	for _, want := range []string{"Job migrate up", "Job user add", "Deployment web serve", "StatefulSet executor serve"} {
		if !paths[want] {
			t.Errorf("configs/k8s: no %s container running crawlctl %s (have %v)", strings.Fields(want)[0], strings.Join(strings.Fields(want)[1:], " "), sortedKeys(paths))
		}
	}
	for _, o := range objs {
		for _, inv := range proseInvocations(t, o.file, readFile(t, filepath.Join(repoRoot, o.file))) {
			checkProse(t, inv)
		}
	}
	if usesCurl && !regexp.MustCompile(`apt-get install[^\n]* curl`).MatchString(dockerfileText(t)) {
		t.Errorf("configs/k8s hooks use curl, but configs/docker/Dockerfile does not install it")
	}
}

// --- Dockerfile --------------------------------------------------------------------

func dockerfileText(t *testing.T) string {
	t.Helper()
	return readFile(t, filepath.Join(repoRoot, "configs", "docker", "Dockerfile"))
}

type dockerInstr struct {
	line      int
	op, value string
}

func dockerInstrs(src string) []dockerInstr {
	var out []dockerInstr
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				continue
			}
			line = strings.TrimSuffix(line, `\`) + " " + next
		}
		op, value, _ := strings.Cut(line, " ")
		out = append(out, dockerInstr{line: n, op: strings.ToUpper(op), value: strings.TrimSpace(value)})
	}
	return out
}

// dockerArgv parses the exec (JSON) form, or wraps the shell form in sh -c.
func dockerArgv(t *testing.T, in dockerInstr) []string {
	t.Helper()
	if strings.HasPrefix(in.value, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(in.value), &argv); err != nil {
			t.Errorf("configs/docker/Dockerfile:%d: %s %s: %v", in.line, in.op, in.value, err)
		}
		return argv
	}
	return []string{"/bin/sh", "-c", in.value}
}

func TestDockerfile(t *testing.T) {
	src := dockerfileText(t)
	ins := dockerInstrs(src)
	var froms, users, exposes []string
	var entrypoint, cmd []string
	for _, in := range ins {
		where := fmt.Sprintf("configs/docker/Dockerfile:%d", in.line)
		switch in.op {
		case "FROM":
			froms = append(froms, in.value)
		case "USER":
			users = append(users, in.value)
		case "EXPOSE":
			exposes = append(exposes, strings.Fields(in.value)...)
		case "ENTRYPOINT":
			entrypoint = dockerArgv(t, in)
		case "CMD":
			cmd = dockerArgv(t, in)
		case "RUN":
			for _, inv := range shellInvocations(where, in.value) {
				checkInvocation(t, inv)
			}
		}
	}
	if len(froms) < 2 || !strings.HasPrefix(froms[0], "golang:1.26") {
		t.Errorf("want a multi-stage build from golang:1.26; FROM lines %q", froms)
	}
	if !strings.Contains(src, "CGO_ENABLED=0 go build -trimpath") || !strings.Contains(src, "-o /out/crawlctl ./cmd/crawlctl") {
		t.Errorf("want CGO_ENABLED=0 go build -trimpath ... -o /out/crawlctl ./cmd/crawlctl")
	}
	if len(users) == 0 || (users[len(users)-1] != "10001:10001" && users[len(users)-1] != "10001" && users[len(users)-1] != "crawlctl") {
		t.Errorf("USER %q, want the non-root crawlctl user (uid 10001)", users)
	}
	for _, p := range []string{"8081", "12321"} {
		if !slices.Contains(exposes, p) {
			t.Errorf("EXPOSE %q lacks %s", exposes, p)
		}
	}
	if !slices.Equal(entrypoint, []string{"crawlctl"}) {
		t.Errorf("ENTRYPOINT %q, want [\"crawlctl\"]", entrypoint)
	} else {
		checkInvocation(t, invocation{where: "configs/docker/Dockerfile ENTRYPOINT+CMD", args: cmd})
	}
	if !strings.Contains(src, "WORKDIR /var/lib/crawlctl") {
		t.Errorf("no WORKDIR /var/lib/crawlctl")
	}
	for _, inv := range proseInvocations(t, "configs/docker/Dockerfile", src) {
		checkProse(t, inv)
	}
}

// --- the example config and the environment variables -----------------------------

func TestExampleConfig(t *testing.T) {
	path := filepath.Join(repoRoot, "configs", "crawlctl.yaml")
	text := readFile(t, path)
	docs := yamlDocs(t, path)
	if len(docs) != 1 {
		t.Fatalf("configs/crawlctl.yaml: %d documents, want 1", len(docs))
	}
	global := help(t, nil).long
	topLevel := map[string]bool{}
	for f := range global {
		topLevel[f] = true
	}
	for _, c := range [][]string{{"web", "serve"}, {"executor", "serve"}} {
		for f := range help(t, c).long {
			topLevel[f] = true
		}
	}
	annotated := func(key string) {
		if !strings.Contains(text, config.EnvName(key)) {
			t.Errorf("configs/crawlctl.yaml: key %s: its comment does not name %s", key, config.EnvName(key))
		}
	}
	var seen []string
	for key, val := range docs[0] {
		if sub, ok := val.(map[string]any); ok {
			cmd, ok := daemonSections[key]
			if !ok {
				t.Errorf("configs/crawlctl.yaml: unknown section %q (crawlctl reads %v)", key, sortedKeys(daemonSections))
				continue
			}
			flags := help(t, cmd).long
			for k := range sub {
				if !flags[k] {
					t.Errorf("configs/crawlctl.yaml: %s.%s: crawlctl %s has no flag --%s", key, k, strings.Join(cmd, " "), k)
				}
				annotated(k)
			}
			seen = append(seen, key)
			continue
		}
		if !topLevel[key] || key == "help" {
			t.Errorf("configs/crawlctl.yaml: top-level key %s is a flag of neither web serve, executor serve nor every command", key)
		}
		annotated(key)
		seen = append(seen, key)
	}
	for _, want := range []string{"db", "web", "executor"} {
		if !slices.Contains(seen, want) {
			t.Errorf("configs/crawlctl.yaml has no %s", want)
		}
	}
	if db, _ := docs[0]["db"].(string); !strings.HasPrefix(db, "mysql://") {
		t.Errorf("configs/crawlctl.yaml: db %q, want a mysql:// DSN", db)
	}
	for _, inv := range proseInvocations(t, "configs/crawlctl.yaml", text) {
		checkProse(t, inv)
	}

	// The security settings are documented, --insecure only as a comment,
	// and the secret file is the one the systemd units pass.
	for _, f := range securityFlags {
		for _, c := range f.cmds {
			if !help(t, c).long[f.name] {
				t.Errorf("crawlctl %s has no --%s (see its --help)", strings.Join(c, " "), f.name)
			}
		}
		if !regexp.MustCompile(`(?m)^\s*(?:# ?)?` + regexp.QuoteMeta(f.name) + `:`).MatchString(text) {
			t.Errorf("configs/crawlctl.yaml does not document %s (--%s)", f.name, f.name)
		}
		if !strings.Contains(text, config.EnvName(f.name)) {
			t.Errorf("configs/crawlctl.yaml does not name %s, the variable of --%s", config.EnvName(f.name), f.name)
		}
	}
	for _, m := range []map[string]any{docs[0], asMap(docs[0]["web"]), asMap(docs[0]["executor"])} {
		if _, ok := m["insecure"]; ok {
			t.Errorf("configs/crawlctl.yaml sets insecure: it must stay a comment (no authentication at all)")
		}
	}
	insecureRE := regexp.MustCompile(`(?m)^# insecure: true$`)
	if loc := insecureRE.FindStringIndex(text); loc == nil {
		t.Errorf("configs/crawlctl.yaml has no commented-out line \"# insecure: true\"")
	} else if before := text[max(0, loc[0]-400):loc[0]]; !strings.Contains(before, "WARNING") || !strings.Contains(before, "never in production") {
		t.Errorf("configs/crawlctl.yaml: the insecure setting is not preceded by a WARNING ... never in production")
	}
	if v, _ := docs[0]["cluster-secret-file"].(string); v != clusterSecretPath {
		t.Errorf("configs/crawlctl.yaml: cluster-secret-file %q, want %s (as the systemd units)", v, clusterSecretPath)
	}
	if !strings.Contains(text, "CRAWLCTL_CLUSTER_SECRET ") && !strings.Contains(text, "CRAWLCTL_CLUSTER_SECRET\n") {
		t.Errorf("configs/crawlctl.yaml does not mention CRAWLCTL_CLUSTER_SECRET (the secret itself from the environment)")
	}
	if !strings.Contains(text, "CRAWLCTL_TOKEN") {
		t.Errorf("configs/crawlctl.yaml does not mention CRAWLCTL_TOKEN (the CLI's API token)")
	}

	// Every value must be valid for its flag: the daemons read the file and
	// get as far as the (empty, unmigrated) database, which is exit 3, not 2.
	// The addresses are pinned to loopback in case they ever got further.
	// The daemons get a secret file of their own (the flag wins over the
	// file's /etc/crawlctl/cluster.secret).
	dir := t.TempDir()
	secretFile := writeSecret(t, dir, "cluster.secret", newSecret(t))
	insecureConfig := filepath.Join(dir, "insecure.yaml")
	if err := os.WriteFile(insecureConfig, []byte(insecureRE.ReplaceAllString(text, "insecure: true")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args   []string
		config string
		want   int
		out    string // what the output must contain
	}{
		{[]string{"web", "serve", "--listen", "127.0.0.1:0", "--cluster-secret-file", secretFile}, path, 3, ""},
		{[]string{"executor", "serve", "--bind", "127.0.0.1", "--cluster-secret-file", secretFile}, path, 3, ""},
		{[]string{"migrate", "status"}, path, 0, ""},
		// The commented-out insecure: true, once uncommented, is accepted
		// in place of a secret...
		{[]string{"web", "serve", "--listen", "127.0.0.1:0", "--cluster-secret-file="}, insecureConfig, 3, ""},
		{[]string{"executor", "serve", "--bind", "127.0.0.1", "--cluster-secret-file="}, insecureConfig, 3, ""},
		// ...while without either the daemons refuse to start.
		{[]string{"web", "serve", "--listen", "127.0.0.1:0", "--cluster-secret-file="}, path, 2, "--cluster-secret-file"},
		{[]string{"executor", "serve", "--bind", "127.0.0.1", "--cluster-secret-file="}, path, 2, "--cluster-secret-file"},
	} {
		name := strings.Join(commandWords(c.args), " ")
		dsn := "sqlite://" + filepath.Join(dir, fmt.Sprintf("%s-%d.db", strings.ReplaceAll(name, " ", "-"), c.want))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, append(c.args, "--config", c.config, "--db", dsn)...)
		cmd.Env = cleanEnv()
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		cancel()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.want || !strings.Contains(string(out), c.out) {
			t.Errorf("crawlctl %s --config %s --db <empty sqlite>: exit %d, want %d (3: config accepted, then the database checked) and output containing %q: %s",
				strings.Join(c.args, " "), filepath.Base(c.config), code, c.want, c.out, out)
		}
	}
}

// clusterSecretPath is where the systemd units and the example config keep
// the cluster secret.
const clusterSecretPath = "/etc/crawlctl/cluster.secret"

// dbFilePath is where the systemd units read the database DSN.
const dbFilePath = "/etc/crawlctl/db.dsn"

// securityFlags are the authentication and TLS flags the deployment files
// use, and the commands that have them.
var securityFlags = []struct {
	name string
	cmds [][]string
}{
	{"cluster-secret-file", [][]string{{"web", "serve"}, {"executor", "serve"}}},
	{"insecure", [][]string{{"web", "serve"}, {"executor", "serve"}}},
	{"tls-cert", [][]string{{"web", "serve"}, {"executor", "serve"}}},
	{"tls-key", [][]string{{"web", "serve"}, {"executor", "serve"}}},
	{"executor-ca-cert", [][]string{{"web", "serve"}}},
	{"ca-cert", [][]string{nil, {"executor", "list"}}},
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// newSecret returns a random cluster secret, as
// `head -c 32 /dev/urandom | base64` would.
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// writeSecret writes a cluster secret file (mode 600) and returns its path.
func writeSecret(t *testing.T, dir, name, secret string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var envNameRE = regexp.MustCompile(`\bCRAWLCTL_[A-Z0-9_]+`)

// TestEnvNames checks that every CRAWLCTL_* variable the deployment files set
// or mention is the variable of a real flag, or one that crawlctl's own help
// names (CRAWLCTL_CLUSTER_SECRET of the daemons, CRAWLCTL_TOKEN of the CLI).
func TestEnvNames(t *testing.T) {
	valid := map[string]bool{}
	for _, c := range [][]string{nil, {"web", "serve"}, {"executor", "serve"}, {"migrate", "up"}, {"solo"}, {"login"}, {"user", "add"}} {
		h := help(t, c)
		for f := range h.long {
			valid[config.EnvName(f)] = true
		}
		for _, v := range envNameRE.FindAllString(h.text, -1) {
			valid[v] = true
		}
	}
	for _, v := range []string{"CRAWLCTL_CLUSTER_SECRET", "CRAWLCTL_TOKEN"} {
		if !valid[v] {
			t.Errorf("crawlctl's help no longer names %s, which the deployment files use", v)
		}
	}
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "configs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "examples" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range scriptNames(t) {
		if !knownBashScripts[name] {
			files = append(files, scriptPath(name))
		}
	}
	found := 0
	for _, p := range files {
		sc := bufio.NewScanner(strings.NewReader(readFile(t, p)))
		for n := 1; sc.Scan(); n++ {
			for _, v := range envNameRE.FindAllString(sc.Text(), -1) {
				found++
				if !valid[v] {
					t.Errorf("%s:%d: %s is not the variable of any crawlctl flag", rel(p), n, v)
				}
			}
		}
	}
	if found == 0 {
		t.Error("found no CRAWLCTL_* variables in the deployment files")
	}
}

// --- the scripts against a real web server and executors ---------------------------

func freePort(t *testing.T) string { return strconv.Itoa(testcluster.FreePort(t)) }

// alive tells whether pid runs (a zombie counts as gone).
func alive(pid int) bool { return procstat.Alive(pid) }

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// stopDaemon ends the process named by a pid file, if it still runs.
func stopDaemon(t *testing.T, pidFile string) {
	pid := readPid(pidFile)
	if pid <= 0 || !alive(pid) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Logf("pid %d (%s) ignored SIGTERM for 20s: killing it", pid, pidFile)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		<-tick.C
	}
}

// eventually polls cond for up to 20s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testcluster.WaitFor(t, 20*time.Second, what, cond)
}

// executorRow is an executor as `crawlctl executor list -o json` shows it.
type executorRow = api.Executor

// executorState is `crawlctl executor list -o json` for one executor, run
// with env (which holds the API token, CRAWLCTL_TOKEN).
func executorState(t *testing.T, env []string, server, name string) (executorRow, string) {
	t.Helper()
	cmd := exec.Command(bin, "executor", "list", "-o", "json", "--server", server)
	cmd.Env = env
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		return executorRow{}, fmt.Sprintf("executor list: %v: %s", err, errOut.String())
	}
	var rows []executorRow
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("executor list -o json: %v\n%s", err, out)
	}
	// The newest row of that name: a restarted executor may register anew.
	var found *executorRow
	for i, r := range rows {
		if r.Name == name && (found == nil || r.ID > found.ID) {
			found = &rows[i]
		}
	}
	if found == nil {
		return executorRow{}, fmt.Sprintf("no executor %s in %s", name, out)
	}
	return *found, fmt.Sprintf("%+v", *found)
}

func waitExecutor(t *testing.T, env []string, server, name string, active bool, status string) executorRow {
	t.Helper()
	var row executorRow
	eventually(t, fmt.Sprintf("executor %s active=%v %s", name, active, status), func() (bool, string) {
		r, state := executorState(t, env, server, name)
		row = r
		return r.Name == name && r.Active == active && r.Status == status, state
	})
	return row
}

// servlet calls the executor's /executor?action=ACTION at base, with the
// cluster secret when secret is not empty, and returns the status and body.
func servlet(t *testing.T, base, action, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/executor?action="+action, nil)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s/executor?action=%s: %v", base, action, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// addAdmin creates the first admin directly in the database, as the
// deployment docs say, and returns its API token.
func addAdmin(t *testing.T, env []string, dsn string) string {
	t.Helper()
	cmd := exec.Command(bin, "user", "add", "admin", "--role", "admin", "--db", dsn, "-o", "json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crawlctl user add admin --role admin --db DSN -o json: %v\n%s", err, out)
	}
	var u struct{ User, Role, Token string }
	if err := json.Unmarshal(out, &u); err != nil || u.User != "admin" || u.Role != "admin" || !strings.HasPrefix(u.Token, "cct_") {
		t.Fatalf("crawlctl user add admin -o json: %v: %s; want {\"user\":\"admin\",\"role\":\"admin\",\"token\":\"cct_...\"}", err, out)
	}
	return u.Token
}

// selfSignedCert writes a certificate for 127.0.0.1 and localhost, and its
// key, for the daemons' --tls-cert and --tls-key.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, err := harness.WriteSelfSignedCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// inlineScriptOf returns the inline script whose location contains where.
func inlineScriptOf(t *testing.T, where string) string {
	t.Helper()
	for _, s := range inlineScripts(t) {
		if strings.Contains(s.where, where) {
			return s.script
		}
	}
	t.Fatalf("no inline script in %s", where)
	return ""
}

// replaceAll replaces old with new in s, which must contain old.
func replaceAll(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the script does not contain %q:\n%s", old, s)
	}
	return strings.ReplaceAll(s, old, new)
}

func TestScriptsAgainstCluster(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed; the scripts need it (apt-get install curl)")
	}
	tmp := t.TempDir()
	secret := newSecret(t)
	secretFile := writeSecret(t, tmp, "cluster.secret", secret)
	wrongFile := writeSecret(t, tmp, "wrong.secret", newSecret(t))
	// The scripts and the CLI keep tokens under this test's directory.
	env := withEnv(cleanEnv(), "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"))

	// Everything the scripts print goes into the transcript, which must
	// never show the secret; neither may the daemons' logs (the scripts
	// print their tails). Checked last, after the daemons stopped.
	var transcript strings.Builder
	t.Cleanup(func() {
		logs, _ := filepath.Glob(filepath.Join(tmp, "*", "*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			fmt.Fprintf(&transcript, "=== %s\n%s", l, b)
		}
		if i := strings.Index(transcript.String(), secret); i >= 0 {
			t.Errorf("the cluster secret appears in the scripts' output or the daemons' logs:\n%s", transcript.String()[max(0, i-500):i])
		}
	})
	run := func(dir string, env []string, name string, args ...string) (int, string, string) {
		t.Helper()
		code, out, errOut := runScriptEnv(t, dir, env, name, args...)
		fmt.Fprintf(&transcript, "$ %s %s\n%s%s", name, strings.Join(args, " "), out, errOut)
		return code, out, errOut
	}
	runInline := func(env []string, where, script string) (int, string) {
		t.Helper()
		code, out, errOut := runCommand(t, tmp, env, "/bin/sh", "-c", script)
		fmt.Fprintf(&transcript, "$ %s\n%s%s", where, out, errOut)
		return code, out + errOut
	}

	// The schema (storetest migrates it, as `crawlctl migrate up` does),
	// then the first admin, straight into the database.
	dsn := storetest.NewMigratedDSN(t, "sqlite")
	token := addAdmin(t, env, dsn)
	adminEnv := withEnv(env, "CRAWLCTL_TOKEN="+token)

	// The Kubernetes admin Job's command does the same with the DSN from
	// the file the Secret crawlctl-db is mounted as (here: a file of the
	// test's at that flag).
	adminJobs := 0
	for _, c := range k8sContainers(t) {
		if args, ok := c.crawlctlArgs(); ok && c.obj.kind() == "Job" && slices.Equal(commandWords(args), []string{"user", "add", "admin"}) {
			adminJobs++
			mounted := mountedSecret(c, "crawlctl-db", "db.dsn")
			dsnFile := filepath.Join(tmp, "job-db.dsn")
			if err := os.WriteFile(dsnFile, []byte(storetest.NewMigratedDSN(t, "sqlite")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			jobArgs := slices.Clone(args)
			for i := range jobArgs {
				if mounted != "" && jobArgs[i] == mounted {
					jobArgs[i] = dsnFile
				}
			}
			code, out, errOut := runCommand(t, tmp, env, bin, jobArgs...)
			if code != 0 || !strings.Contains(out, "cct_") {
				t.Errorf("%s: crawlctl %s with the mounted DSN file: exit %d, stdout %q, stderr %q; want the admin created and its token printed", c.where, strings.Join(jobArgs, " "), code, out, errOut)
			}
		}
	}
	if adminJobs == 0 {
		t.Error("configs/k8s: no Job running crawlctl user add admin")
	}

	port := freePort(t)
	server := "http://127.0.0.1:" + port
	webDir := filepath.Join(tmp, "web")
	t.Cleanup(func() { stopDaemon(t, filepath.Join(webDir, "web.pid")) })

	// Without a secret and without --insecure the web server refuses to
	// start, and start-web.sh says why.
	noAuthDir := filepath.Join(tmp, "web-noauth")
	t.Cleanup(func() { stopDaemon(t, filepath.Join(noAuthDir, "web.pid")) })
	code, _, errOut := run(tmp, env, "start-web.sh", "--bin", bin, "--dir", noAuthDir, "--timeout", "20", "--", "--db", dsn, "--listen", "127.0.0.1:"+port)
	if code == 0 || !strings.Contains(errOut, "--cluster-secret-file") {
		t.Errorf("start-web.sh without a cluster secret or --insecure: exit %d, stderr %q; want a failure naming --cluster-secret-file", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(noAuthDir, "web.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("start-web.sh left a pid file for a web server that did not start: %v", err)
	}

	code, out, errOut := run(tmp, env, "start-web.sh", "--bin", bin, "--dir", webDir, "--",
		"--db", dsn, "--listen", "127.0.0.1:"+port, "--cluster-secret-file", secretFile)
	if code != 0 {
		t.Fatalf("start-web.sh --cluster-secret-file: exit %d\n%s%s", code, out, errOut)
	}
	resp, err := http.Get(server + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz after start-web.sh: %v %v", resp, err)
	}
	resp.Body.Close()
	if resp, err := http.Get(server + "/api/v1/executors"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/executors without a token: %v %v, want 401 (the web server runs with authentication)", resp, err)
	} else {
		resp.Body.Close()
	}
	if _, err := os.Stat(filepath.Join(webDir, "web.log")); err != nil {
		t.Errorf("start-web.sh left no log: %v", err)
	}
	if code, _, errOut := run(tmp, env, "start-web.sh", "--bin", bin, "--dir", webDir, "--", "--db", dsn, "--listen", "127.0.0.1:"+port, "--cluster-secret-file", secretFile); code == 0 || !strings.Contains(errOut, "already running") {
		t.Errorf("start-web.sh a second time on the same --dir: exit %d, stderr %q; want a refusal", code, errOut)
	}

	startExec := func(dir string, env []string, opts []string, flags ...string) (int, string, string) {
		t.Helper()
		t.Cleanup(func() { stopDaemon(t, filepath.Join(dir, "executor.pid")) })
		args := append([]string{"--bin", bin, "--dir", dir}, opts...)
		return run(tmp, env, "start-exec.sh", append(append(args, "--"), flags...)...)
	}
	node := func(name string, flags ...string) []string {
		return append([]string{"--db", dsn, "--port", "0", "--host", "127.0.0.1", "--name", name, "--heartbeat", "500ms"}, flags...)
	}
	withSecret := func(name string) []string { return node(name, "--cluster-secret-file", secretFile) }
	waitFor := func(name string, active bool, status string) executorRow {
		t.Helper()
		return waitExecutor(t, adminEnv, server, name, active, status)
	}
	shutdown := func(dir string) {
		t.Helper()
		if code, out, errOut := run(tmp, env, "shutdown-exec.sh", "--dir", dir, "--timeout", "30"); code != 0 {
			t.Errorf("shutdown-exec.sh --dir %s: exit %d\n%s%s", dir, code, out, errOut)
		}
	}

	// An executor started and activated by start-exec.sh, which sends the
	// secret of the --cluster-secret-file it passes on.
	execDir := filepath.Join(tmp, "exec")
	code, out, errOut = startExec(execDir, env, nil, withSecret("node-x")...)
	if code != 0 {
		t.Fatalf("start-exec.sh -- --cluster-secret-file: exit %d\n%s%s", code, out, errOut)
	}
	portFile := filepath.Join(execDir, "executor.port")
	b, err := os.ReadFile(portFile)
	if err != nil {
		t.Fatalf("start-exec.sh: no port file: %v", err)
	}
	if strings.TrimSpace(out) != string(b) {
		t.Errorf("start-exec.sh printed %q, the port file holds %q", out, b)
	}
	row := waitFor("node-x", true, "online")
	if strconv.Itoa(row.Port) != string(b) {
		t.Errorf("node-x listed on port %d, port file says %s", row.Port, b)
	}

	// One started inactive, activated with activate-exec.sh from its
	// directory: refused without the secret or with a wrong one, done with it.
	exec2 := filepath.Join(tmp, "exec2")
	code, out, errOut = startExec(exec2, env, []string{"--no-activate"}, withSecret("node-y")...)
	if code != 0 {
		t.Fatalf("start-exec.sh --no-activate: exit %d\n%s%s", code, out, errOut)
	}
	port2 := strings.TrimSpace(out)
	exec2URL := "http://127.0.0.1:" + port2
	waitFor("node-y", false, "online")
	inactive := func(what string) {
		t.Helper()
		if code, body := servlet(t, exec2URL, "getStatus", ""); code != http.StatusOK || !strings.Contains(body, `"isActive":"false"`) {
			t.Errorf("after %s: getStatus %d %s, want the executor still inactive", what, code, body)
		}
		if r, state := executorState(t, adminEnv, server, "node-y"); r.Active {
			t.Errorf("after %s: executor list shows node-y active: %s", what, state)
		}
	}
	code, out, errOut = run(exec2, env, "activate-exec.sh")
	if code != 1 || !strings.Contains(errOut, "unauthorized") || !strings.Contains(errOut, "--secret-file") || !strings.Contains(errOut, "CRAWLCTL_CLUSTER_SECRET_FILE") {
		t.Errorf("activate-exec.sh without the secret: exit %d, stdout %q, stderr %q; want exit 1 and \"unauthorized: give the cluster secret with --secret-file or CRAWLCTL_CLUSTER_SECRET_FILE\"", code, out, errOut)
	}
	inactive("activate-exec.sh without the secret")
	code, out, errOut = run(exec2, env, "activate-exec.sh", "--secret-file", wrongFile)
	if code != 1 || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("activate-exec.sh --secret-file <wrong secret>: exit %d, stdout %q, stderr %q; want exit 1, unauthorized", code, out, errOut)
	}
	inactive("activate-exec.sh with a wrong secret")
	if code, _, errOut := run(exec2, env, "activate-exec.sh", "--secret-file", filepath.Join(tmp, "no-such.secret")); code != 1 || !strings.Contains(errOut, "no-such.secret") {
		t.Errorf("activate-exec.sh --secret-file <missing file>: exit %d, stderr %q; want exit 1 naming the file", code, errOut)
	}
	code, out, errOut = run(exec2, env, "activate-exec.sh", "--secret-file", secretFile)
	if code != 0 || out != "{\"status\":\"success\"}\n" { // the reply as one line, nothing after it
		t.Fatalf("activate-exec.sh --secret-file in %s: exit %d, stdout %q, stderr %q", exec2, code, out, errOut)
	}
	waitFor("node-y", true, "online")
	for _, e := range []string{"CRAWLCTL_CLUSTER_SECRET_FILE=" + secretFile, "CRAWLCTL_CLUSTER_SECRET=" + secret} {
		name, _, _ := strings.Cut(e, "=")
		if code, out, errOut := run(tmp, withEnv(env, e), "activate-exec.sh", "127.0.0.1:"+port2); code != 0 || !strings.Contains(out, `"success"`) {
			t.Errorf("activate-exec.sh 127.0.0.1:%s with %s: exit %d, %q %q", port2, name, code, out, errOut)
		}
	}
	if code, _, errOut := run(tmp, env, "activate-exec.sh", "--secret-file", secretFile, "127.0.0.1:"+freePort(t)); code != 1 || errOut == "" {
		t.Errorf("activate-exec.sh on a closed port: exit %d, stderr %q; want 1 and a message", code, errOut)
	}
	if code, _, errOut := run(tmp, env, "activate-exec.sh", "--secret-file", secretFile); code != 1 || !strings.Contains(errOut, "executor.port") {
		t.Errorf("activate-exec.sh without a port file: exit %d, stderr %q; want 1 naming the port file", code, errOut)
	}

	// One activated through the web server's API, with an admin's token...
	exec3 := filepath.Join(tmp, "exec3")
	code, out, errOut = startExec(exec3, adminEnv, []string{"--server", server}, withSecret("node-z")...)
	if code != 0 {
		t.Fatalf("start-exec.sh --server with CRAWLCTL_TOKEN: exit %d\n%s%s", code, out, errOut)
	}
	waitFor("node-z", true, "online")
	// ...which cannot be done without one.
	exec4 := filepath.Join(tmp, "exec4")
	code, _, errOut = startExec(exec4, env, []string{"--server", server}, withSecret("node-w")...)
	if code != 1 || !strings.Contains(errOut, "CRAWLCTL_TOKEN") {
		t.Errorf("start-exec.sh --server without a token: exit %d, stderr %q; want exit 1 naming CRAWLCTL_TOKEN", code, errOut)
	}
	waitFor("node-w", false, "online")
	shutdown(exec4)

	// The executor's secret from the environment: start-exec.sh sends the
	// same one.
	for _, c := range []struct{ name, env string }{
		{"node-v", "CRAWLCTL_CLUSTER_SECRET_FILE=" + secretFile},
		{"node-u", "CRAWLCTL_CLUSTER_SECRET=" + secret},
	} {
		dir := filepath.Join(tmp, c.name)
		if code, out, errOut := startExec(dir, withEnv(env, c.env), nil, node(c.name)...); code != 0 {
			t.Errorf("start-exec.sh with %s: exit %d\n%s%s", strings.SplitN(c.env, "=", 2)[0], code, out, errOut)
			continue
		}
		waitFor(c.name, true, "online")
		shutdown(dir)
	}

	// The secret from a config file, which start-exec.sh cannot see: the
	// activation is refused (the executor runs on, inactive) until
	// --secret-file names it.
	cfg := filepath.Join(tmp, "secret-config.yaml")
	if err := os.WriteFile(cfg, []byte("cluster-secret-file: "+secretFile+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	execT := filepath.Join(tmp, "node-t")
	code, _, errOut = startExec(execT, env, nil, node("node-t", "--config", cfg)...)
	if code != 1 || !strings.Contains(errOut, "unauthorized") || !strings.Contains(errOut, "--secret-file") {
		t.Errorf("start-exec.sh, executor secret from --config only: exit %d, stderr %q; want exit 1, unauthorized, naming --secret-file", code, errOut)
	}
	waitFor("node-t", false, "online")
	shutdown(execT)
	if code, out, errOut := startExec(execT, env, []string{"--secret-file", secretFile}, node("node-t", "--config", cfg)...); code != 0 {
		t.Errorf("start-exec.sh --secret-file, executor secret from --config: exit %d\n%s%s", code, out, errOut)
	} else {
		waitFor("node-t", true, "online")
	}
	shutdown(execT)

	// No secret and no --insecure: the executor refuses to start.
	execN := filepath.Join(tmp, "node-n")
	if code, _, errOut := startExec(execN, env, []string{"--timeout", "20"}, node("node-n")...); code != 1 || !strings.Contains(errOut, "--cluster-secret-file") {
		t.Errorf("start-exec.sh without a cluster secret or --insecure: exit %d, stderr %q; want exit 1 naming --cluster-secret-file", code, errOut)
	}

	// HTTPS: start-exec.sh pings and activates over https; activate-exec.sh
	// --cacert checks the certificate; start-web.sh checks /healthz over https.
	certFile, keyFile := selfSignedCert(t, tmp)
	execS := filepath.Join(tmp, "node-tls")
	code, out, errOut = startExec(execS, env, nil, append(withSecret("node-tls"), "--tls-cert", certFile, "--tls-key", keyFile)...)
	if code != 0 {
		t.Errorf("start-exec.sh -- --tls-cert --tls-key: exit %d\n%s%s", code, out, errOut)
	} else {
		waitFor("node-tls", true, "online")
		tlsPort := strings.TrimSpace(out)
		if code, out, errOut := run(tmp, env, "activate-exec.sh", "--cacert", certFile, "--secret-file", secretFile, "127.0.0.1:"+tlsPort); code != 0 || !strings.Contains(out, `"success"`) {
			t.Errorf("activate-exec.sh --cacert over https: exit %d, %q %q", code, out, errOut)
		}
		shutdown(execS)
	}
	tlsWebDir := filepath.Join(tmp, "web-tls")
	t.Cleanup(func() { stopDaemon(t, filepath.Join(tlsWebDir, "web.pid")) })
	tlsWebPort := freePort(t)
	code, out, errOut = run(tmp, env, "start-web.sh", "--bin", bin, "--dir", tlsWebDir, "--",
		"--db", dsn, "--listen", "127.0.0.1:"+tlsWebPort, "--cluster-secret-file", secretFile, "--tls-cert", certFile, "--tls-key", keyFile)
	if code != 0 || !strings.Contains(out, "https://127.0.0.1:"+tlsWebPort) {
		t.Errorf("start-web.sh -- --tls-cert --tls-key: exit %d, stdout %q, stderr %q; want it started at https://127.0.0.1:%s", code, out, errOut, tlsWebPort)
	}
	stopDaemon(t, filepath.Join(tlsWebDir, "web.pid"))

	// The activation loops of the systemd unit and the Kubernetes manifest,
	// run as they are but for the paths of the port and secret files.
	execI := filepath.Join(tmp, "node-s")
	code, out, errOut = startExec(execI, env, []string{"--no-activate"}, withSecret("node-s")...)
	if code != 0 {
		t.Fatalf("start-exec.sh --no-activate: exit %d\n%s%s", code, out, errOut)
	}
	sPort := filepath.Join(execI, "executor.port")
	sURL := "http://127.0.0.1:" + strings.TrimSpace(out)
	unitPost := replaceAll(t, inlineScriptOf(t, "crawlctl-executor.service ExecStartPost"), "/run/crawlctl/executor.port", sPort)
	if code, out := runInline(env, "ExecStartPost= with a wrong secret", replaceAll(t, unitPost, clusterSecretPath, wrongFile)); code == 0 {
		t.Errorf("the unit's ExecStartPost= with a wrong secret: exit 0, want a failure: %s", out)
	}
	waitFor("node-s", false, "online")
	if code, out := runInline(env, "ExecStartPost=", replaceAll(t, unitPost, clusterSecretPath, secretFile)); code != 0 {
		t.Errorf("the unit's ExecStartPost=: exit %d: %s", code, out)
	}
	waitFor("node-s", true, "online")
	if code, body := servlet(t, sURL, "deactivate", secret); code != http.StatusOK {
		t.Fatalf("deactivate node-s: %d %s", code, body)
	}
	waitFor("node-s", false, "online")
	postStart := replaceAll(t, inlineScriptOf(t, "StatefulSet/crawlctl-executor container executor postStart"), "/tmp/executor.port", sPort)
	for _, c := range k8sContainers(t) {
		if c.obj.kind() == "StatefulSet" {
			if mounted := mountedSecret(c, "crawlctl-cluster", "cluster.secret"); mounted != "" {
				postStart = replaceAll(t, postStart, mounted, secretFile)
			}
		}
	}
	if code, out := runInline(env, "postStart", postStart); code != 0 {
		t.Errorf("the StatefulSet's postStart hook: exit %d: %s", code, out)
	}
	waitFor("node-s", true, "online")
	shutdown(execI)

	// An insecure cluster of its own: --insecure passes through both
	// scripts, with a warning, and the activation needs no secret.
	dsnI := storetest.NewMigratedDSN(t, "sqlite")
	portI := freePort(t)
	serverI := "http://127.0.0.1:" + portI
	webI := filepath.Join(tmp, "web-insecure")
	t.Cleanup(func() { stopDaemon(t, filepath.Join(webI, "web.pid")) })
	code, out, errOut = run(tmp, env, "start-web.sh", "--bin", bin, "--dir", webI, "--", "--db", dsnI, "--listen", "127.0.0.1:"+portI, "--insecure")
	if code != 0 || !strings.Contains(errOut, "--insecure") {
		t.Errorf("start-web.sh -- --insecure: exit %d, stdout %q, stderr %q; want it started, with a warning", code, out, errOut)
	} else {
		execI := filepath.Join(tmp, "node-i")
		code, out, errOut = startExec(execI, env, nil, "--db", dsnI, "--port", "0", "--host", "127.0.0.1", "--name", "node-i", "--heartbeat", "500ms", "--insecure")
		if code != 0 {
			t.Errorf("start-exec.sh -- --insecure: exit %d\n%s%s", code, out, errOut)
		} else {
			waitExecutor(t, env, serverI, "node-i", true, "online") // no token needed
			if code, out, errOut := run(execI, env, "activate-exec.sh"); code != 0 || !strings.Contains(out, `"success"`) {
				t.Errorf("activate-exec.sh on an --insecure executor: exit %d, %q %q", code, out, errOut)
			}
			shutdown(execI)
		}
	}
	// shutdown-web.sh stops it gracefully and removes its pid file.
	if code, out, errOut := run(tmp, env, "shutdown-web.sh", "--dir", webI); code != 0 || !strings.Contains(out, "stopped") {
		t.Errorf("shutdown-web.sh --dir %s: exit %d\n%s%s", webI, code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(webI, "web.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pid file after shutdown-web.sh: %v, want it removed", err)
	}
	if resp, err := http.Get(serverI + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the web server still answers after shutdown-web.sh: %s", resp.Status)
	}

	// Graceful shutdown.
	code, out, errOut = run(tmp, env, "shutdown-exec.sh", "--dir", execDir, "--timeout", "30")
	if code != 0 {
		t.Fatalf("shutdown-exec.sh: exit %d\n%s%s", code, out, errOut)
	}
	waitFor("node-x", false, "stopped")
	if _, err := os.Stat(portFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("port file after shutdown-exec.sh: %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(execDir, "executor.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pid file after shutdown-exec.sh: %v, want it removed", err)
	}
	if code, _, errOut := run(tmp, env, "shutdown-exec.sh", "--dir", execDir, "--timeout", "30"); code != 1 || errOut == "" {
		t.Errorf("shutdown-exec.sh with nothing to stop: exit %d, stderr %q; want 1 and a message", code, errOut)
	}
	shutdown(exec2)
	shutdown(exec3)
	waitFor("node-y", false, "stopped")
	waitFor("node-z", false, "stopped")
}
