// Package labels reads, writes and matches executor labels and the label
// selectors of flows: "region=eu,gpu=true" requires an executor labelled
// region=eu and gpu=true. A selector matches an executor that has every
// label it names with the same value; other labels of the executor do not
// matter. The empty selector matches every executor.
package labels

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Parse reads "k=v,k2=v2" (spaces around items are ignored; "" is none).
// A key may appear once.
func Parse(s string) (map[string]string, error) {
	return ParseList([]string{s})
}

// ParseList reads several "k=v" items, each of which may itself be a comma
// list (the repeatable --selector flag). A key given twice with different
// values is an error.
func ParseList(items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range items {
		for _, part := range strings.Split(item, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			k, v, ok := strings.Cut(part, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" {
				return nil, fmt.Errorf("bad label %q: use key=value", part)
			}
			if err := checkKey(k); err != nil {
				return nil, err
			}
			if strings.ContainsAny(v, ",") {
				return nil, fmt.Errorf("bad label value %q: no commas", v)
			}
			if old, dup := out[k]; dup && old != v {
				return nil, fmt.Errorf("label %q given twice (%q and %q)", k, old, v)
			}
			out[k] = v
		}
	}
	return out, nil
}

func checkKey(k string) error {
	if strings.ContainsAny(k, "=, \t\n") {
		return fmt.Errorf("bad label key %q: no '=', ',' or spaces", k)
	}
	return nil
}

// CheckKey refuses a key that cannot be written in a selector.
func CheckKey(k string) error {
	if k == "" {
		return fmt.Errorf("empty label key")
	}
	return checkKey(k)
}

// String writes m as "k=v,k2=v2", keys sorted ("" for none).
func String(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// Merge returns base with over's keys on top (over wins).
func Merge(base, over map[string]string) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, over)
	return out
}

// Matches reports whether an executor with labels have satisfies sel.
func Matches(have, sel map[string]string) bool {
	for k, v := range sel {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Missing returns the "k=v" items of sel that have lacks, sorted.
func Missing(have, sel map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		if got, ok := have[k]; !ok || got != sel[k] {
			out = append(out, k+"="+sel[k])
		}
	}
	return out
}
