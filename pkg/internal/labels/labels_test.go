package labels

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want map[string]string
		bad  bool
	}{
		{in: []string{""}, want: map[string]string{}},
		{in: []string{"region=eu"}, want: map[string]string{"region": "eu"}},
		{in: []string{" region = eu , gpu=true "}, want: map[string]string{"region": "eu", "gpu": "true"}},
		{in: []string{"region=eu", "gpu=true"}, want: map[string]string{"region": "eu", "gpu": "true"}},
		{in: []string{"empty="}, want: map[string]string{"empty": ""}},
		{in: []string{"region=eu", "region=eu"}, want: map[string]string{"region": "eu"}},
		{in: []string{"region=eu", "region=us"}, bad: true},
		{in: []string{"region"}, bad: true},
		{in: []string{"=eu"}, bad: true},
		{in: []string{"re gion=eu"}, bad: true},
	} {
		got, err := ParseList(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q: no error, got %v", c.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestMatchAndString(t *testing.T) {
	have := map[string]string{"region": "eu", "gpu": "true", "zone": "a"}
	if !Matches(have, nil) || !Matches(have, map[string]string{"region": "eu", "gpu": "true"}) {
		t.Fatal("a subset must match")
	}
	if Matches(have, map[string]string{"region": "us"}) || Matches(have, map[string]string{"ssd": "yes"}) {
		t.Fatal("another value or a missing key must not match")
	}
	if Matches(map[string]string{}, map[string]string{"empty": ""}) {
		t.Fatal("an empty value still requires the key")
	}
	if got := Missing(have, map[string]string{"region": "us", "gpu": "true", "a": "1"}); !reflect.DeepEqual(got, []string{"a=1", "region=us"}) {
		t.Fatalf("missing: %v", got)
	}
	if s := String(map[string]string{"z": "1", "a": "2"}); s != "a=2,z=1" {
		t.Fatalf("string: %q", s)
	}
	if m := Merge(map[string]string{"a": "1", "b": "2"}, map[string]string{"b": "3"}); !reflect.DeepEqual(m, map[string]string{"a": "1", "b": "3"}) {
		t.Fatalf("merge: %v", m)
	}
}
