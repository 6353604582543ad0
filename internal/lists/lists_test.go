package lists

import (
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"":                 nil,
		" , ,":             nil,
		"a":                {"a"},
		" eng, fra,,deu ":  {"eng", "fra", "deu"},
		"/srv/a,/srv/b c ": {"/srv/a", "/srv/b c"},
	} {
		if got := Split(in); !slices.Equal(got, want) {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}
