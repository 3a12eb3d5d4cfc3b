// Package config resolves crawlctl's settings. Every setting is a command-line
// flag; a flag the user did not type takes its value from the environment
// variable CRAWLCTL_<FLAG_NAME> (dashes become underscores), else from the
// YAML config file (--config / CRAWLCTL_CONFIG), else its default. The CLI
// calls Apply before running any command.
//
// The config file holds top-level keys that apply to every command (db,
// server, log-level, ...) and one section per daemon (web, executor, solo)
// whose keys win for that daemon:
//
//	db: mysql://crawlctl:secret@db.internal:3306/crawlctl
//	log-level: info
//	executor:
//	  port: 12321
//	  label: [zone=a, gpu=false]
package config

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// EnvName is the environment variable that sets a flag.
func EnvName(flag string) string {
	return "CRAWLCTL_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// File is a parsed config file.
type File map[string]any

// Load reads a YAML config file. An empty path gives an empty File.
func Load(path string) (File, error) {
	if path == "" {
		return File{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var f File
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("config file %s: %v", path, err)
	}
	if f == nil {
		f = File{}
	}
	if err := dotted(f); err != nil {
		return nil, fmt.Errorf("config file %s: %v", path, err)
	}
	return f, nil
}

// dotted renames the keys written with dots, as Azkaban's properties are
// (mail.host, mail.sender, ...), to the flag spelling (mail-host), at the
// top level and in each section; a key given both ways is an error.
func dotted(m map[string]any) error {
	for k, v := range m {
		if sub, ok := asMap(v); ok {
			if err := dotted(sub); err != nil {
				return err
			}
		}
		if !strings.Contains(k, ".") {
			continue
		}
		dashed := strings.ReplaceAll(k, ".", "-")
		if _, both := m[dashed]; both {
			return fmt.Errorf("%q and %q are the same setting; give one", k, dashed)
		}
		m[dashed] = v
		delete(m, k)
	}
	return nil
}

// lookup finds key in section (if any) then at the top level.
func (f File) lookup(section, key string) (any, bool) {
	if section != "" {
		if m, ok := asMap(f[section]); ok {
			if v, ok := m[key]; ok {
				return v, true
			}
		}
	}
	v, ok := f[key]
	if _, isSection := asMap(v); isSection {
		return nil, false
	}
	return v, ok
}

// asMap accepts a YAML mapping, whichever map type the decoder chose.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case File:
		return m, true
	case map[string]any:
		return m, true
	}
	return nil, false
}

// Apply fills every flag of fs that was not set on the command line from the
// environment, then from f (section first, then top level). It returns an
// error naming the variable or key whose value is invalid.
func Apply(fs *pflag.FlagSet, section string, f File) error {
	var errs []string
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || fl.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(EnvName(fl.Name)); ok {
			if err := set(fl, splitList(fl, v)); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", EnvName(fl.Name), v, err))
			}
			return
		}
		if v, ok := f.lookup(section, fl.Name); ok {
			if err := set(fl, toStrings(v)); err != nil {
				errs = append(errs, fmt.Sprintf("config key %q: %v", fl.Name, err))
			}
		}
	})
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func set(fl *pflag.Flag, vals []string) error {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		return sv.Replace(vals)
	}
	if len(vals) != 1 {
		return fmt.Errorf("expected one value, got %d", len(vals))
	}
	return fl.Value.Set(vals[0])
}

// splitList splits a comma-separated env value for list flags.
func splitList(fl *pflag.Flag, v string) []string {
	if _, ok := fl.Value.(pflag.SliceValue); !ok {
		return []string{v}
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case map[string]any, File:
		m, _ := asMap(v)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]string, 0, len(m))
		for _, k := range keys {
			out = append(out, k+"="+fmt.Sprint(m[k]))
		}
		return out
	case nil:
		return []string{""}
	default:
		return []string{fmt.Sprint(x)}
	}
}

// Keys says which keys a config file may hold: Top at the top level, and
// for each section the keys of that section.
type Keys struct {
	Top      []string
	Sections map[string][]string
}

// Check returns an error naming every key of f that Keys does not know, and
// the file (path): a misspelt key would otherwise be ignored without a word.
// It suggests the known key closest to each.
func (f File) Check(path string, k Keys) error {
	var errs []string
	unknown := func(prefix, key string, known []string) {
		msg := fmt.Sprintf("unknown key %q", prefix+key)
		if near := closest(key, known); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", prefix+near)
		}
		errs = append(errs, msg)
	}
	top := append(slices.Clone(k.Top), slices.Collect(maps.Keys(k.Sections))...)
	for key, v := range f {
		section, isSection := k.Sections[key]
		m, isMap := asMap(v)
		switch {
		case isSection && isMap:
			for sk := range m {
				if !slices.Contains(section, sk) {
					unknown(key+".", sk, section)
				}
			}
		case slices.Contains(k.Top, key):
		case isSection:
			errs = append(errs, fmt.Sprintf("key %q must hold the settings of %s (key: value lines)", key, key))
		default:
			unknown("", key, top)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	return fmt.Errorf("config %s: %s", path, strings.Join(errs, "; "))
}

// closest is the candidate nearest to s when it is near enough to be what
// was meant (an edit distance of at most a third of its length, at most 3),
// else "".
func closest(s string, candidates []string) string {
	best, bestD := "", min(3, max(1, len(s)/3))+1
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
