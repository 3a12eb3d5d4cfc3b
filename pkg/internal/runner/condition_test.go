package runner

import (
	"strings"
	"testing"
)

func TestConditionExpressions(t *testing.T) {
	params := map[string]string{
		"a:x":    "y",
		"a:n":    "10",
		"a:flag": "true",
		"name":   "job one",
	}
	env := func(deps ...JobStatus) *condEnv {
		return &condEnv{deps: deps, param: func(name string) (string, error) {
			if v, ok := params[name]; ok {
				return v, nil
			}
			return "", &undefinedParamError{name: name}
		}}
	}
	ok, fail, skip, cancelled := Succeeded, Failed, Skipped, Cancelled
	cases := []struct {
		cond string
		deps []JobStatus
		want bool
	}{
		{"all_success", []JobStatus{ok, skip}, true},
		{"all_success", []JobStatus{ok, fail}, false},
		{"all_success", nil, true},
		{"all_failed", []JobStatus{fail, cancelled, Killed}, true},
		{"all_failed", []JobStatus{fail, skip}, false},
		{"all_done", []JobStatus{fail, ok, skip, cancelled}, true},
		{"one_success", []JobStatus{fail, skip}, true},
		{"one_success", []JobStatus{fail, cancelled}, false},
		{"one_success", nil, false},
		{"one_failed", []JobStatus{ok, cancelled}, true},
		{"one_failed", []JobStatus{ok, skip}, false},
		{"one_done", []JobStatus{fail}, true},
		{"one_done", nil, false},
		{"${a:x} == 'y'", nil, true},
		{`${a:x} == "z"`, nil, false},
		{"${a:x} != 'z'", nil, true},
		{"${a:n} > 9", nil, true},     // numeric: "10" > "9"
		{"${a:n} > '9'", nil, true},   // quoted numbers compare as numbers too
		{"${a:n} <= 10.0", nil, true}, // 10 == 10.0
		{"${a:n} == 10.0", nil, true}, //
		{"${a:x} < 'z'", nil, true},   // strings compare lexically
		{"${a:x} >= 'z'", nil, false}, //
		{"${name} == 'job one'", nil, true},
		{"${a:flag}", nil, true},
		{"${a:flag} == true", nil, true},
		{"!${a:flag}", nil, false},
		{"true && !false", nil, true},
		{"one_failed || ${a:x} == 'y'", []JobStatus{ok}, true},
		{"one_failed && ${a:missing} == 'y'", []JobStatus{ok}, false}, // short-circuit
		{"(one_failed || all_success) && (${a:n} >= 10)", []JobStatus{ok}, true},
		{"one_failed || all_success && ${a:n} < 10", []JobStatus{ok}, false}, // && binds tighter
		{"  all_done  ", []JobStatus{fail}, true},
	}
	for _, tc := range cases {
		expr, err := parseCondition(tc.cond)
		if err != nil {
			t.Errorf("parse %q: %v", tc.cond, err)
			continue
		}
		got, err := expr.eval(env(tc.deps...))
		if err != nil {
			t.Errorf("eval %q: %v", tc.cond, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q with deps %v = %v, want %v", tc.cond, tc.deps, got, tc.want)
		}
	}
}

func TestConditionErrors(t *testing.T) {
	for _, cond := range []string{
		"all_success &&", "(all_done", "all_done)", "bogus", "${a:x} == ", "'open",
		"all_success all_done", "${a:x} == 'y' == 'z'", "#",
	} {
		if _, err := parseCondition(cond); err == nil {
			t.Errorf("parse %q: no error", cond)
		}
	}
	expr, err := parseCondition("${a:missing} == 'y'")
	if err != nil {
		t.Fatal(err)
	}
	_, err = expr.eval(&condEnv{param: func(name string) (string, error) { return "", &undefinedParamError{name} }})
	if err == nil || !strings.Contains(err.Error(), "undefined parameter ${a:missing}") {
		t.Errorf("eval error %v", err)
	}
	expr, _ = parseCondition("${v}")
	if _, err := expr.eval(&condEnv{param: func(string) (string, error) { return "maybe", nil }}); err == nil {
		t.Error("non-boolean value accepted")
	}
}
